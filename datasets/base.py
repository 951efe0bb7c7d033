"""What every data set gives: in-memory tensors plus a stable original index for every example.

`Bundle` is the raw official train/test split of a data set. `Split` carves the validation set out
of the official train split (seeded, saved, reused). `TensorSet` is an index-tracked subset that
yields device-resident batches with batched augmentation.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from engine import distributed
from engine.device import to_device
from engine.errors import UserError


@dataclass
class Bundle:
    """Official splits of one data set, as tensors.

    train_x/test_x: uint8 [N,C,H,W] (decoded images) or float32 in [0,1].
    The original index of a training example is its row in train_x.
    """
    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple
    std: tuple
    augment: dict = field(default_factory=lambda: {"pad": 0, "flip": False})
    default_arch: str = "resnet18"
    extras: dict = field(default_factory=dict)  # e.g. synthetic ground truth, keyed by original index

    @property
    def image_shape(self):
        return tuple(self.train_x.shape[1:])

    def validate(self):
        for part in ("train", "test"):
            x, y = getattr(self, f"{part}_x"), getattr(self, f"{part}_y")
            if len(x) != len(y):
                raise UserError(f"data set {self.name}: {part} has {len(x)} images but {len(y)} labels")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise UserError(f"data set {self.name}: {part} labels outside 0..{self.num_classes - 1}")
        return self


def to_float(x):
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def augment_batch(x, pad=0, flip=False, generator=None, part=None):
    """Random crop with zero padding and horizontal flip, for a whole batch at once on x's device:
    one gather from each (padded) image, the flip folded into the column order. Any dtype (on
    uint8 images, before the float conversion, it moves a quarter of the bytes).

    part=(start, stop, total): x holds rows start:stop of a batch of `total` rows (a data-parallel
    rank's shard); the random draws are made for all rows, so each row is augmented as it would
    be in one process."""
    if not pad and not flip:
        return x
    n, c, h, w = x.shape
    draws, mine = (n, slice(None)) if part is None else (part[2], slice(part[0], part[1]))
    dy = dx = torch.zeros(n, dtype=torch.long, device=x.device)
    if pad:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dy = to_device(torch.randint(0, 2 * pad + 1, (draws,), generator=generator)[mine], x.device)
        dx = to_device(torch.randint(0, 2 * pad + 1, (draws,), generator=generator)[mine], x.device)
    cols = torch.arange(w, device=x.device).expand(n, w)
    if flip:
        flipped = to_device(torch.rand(draws, generator=generator)[mine] < 0.5, x.device)
        cols = torch.where(flipped[:, None], cols.flip(1), cols)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # n,h
    cols = dx[:, None] + cols  # n,w
    offsets = (rows[:, :, None] * x.shape[3] + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
    return x.reshape(n, c, -1).gather(2, offsets).view(n, c, h, w)


def alternating_flip(x, idx, epoch):
    """--recipe fast: flip example i in epoch e iff (e + phase(i)) is odd, phase(i) a fixed
    pseudo-random bit of its original index, so each example is flipped on alternate epochs."""
    idx = torch.as_tensor(idx, dtype=torch.long).to(x.device)
    phase = ((idx * 2654435761) >> 16) & 1
    flip = (phase + int(epoch)) % 2 == 1
    return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


class TensorSet:
    """Examples addressed by original index; x stays on its device, batches are sliced from it.

    A `view` shares the images of its parent (it keeps only row numbers into them), so forget,
    retain and their union cost no copy of the data set; `.x` of a view gathers its rows."""

    def __init__(self, x, y, idx, augment=None, rows=None):
        self._x, self.rows, self.y = x, rows, y
        self.idx = torch.as_tensor(idx, dtype=torch.long)
        self.augment = augment or {"pad": 0, "flip": False}

    @property
    def x(self):
        return self._x if self.rows is None else self._x[self.rows]

    @x.setter
    def x(self, value):
        self._x, self.rows = value, None

    def __len__(self):
        return len(self.y)

    def _rows_of(self, positions):
        """Rows of the stored images for positions in this set (positions on x's device)."""
        return positions if self.rows is None else self.rows[positions]

    def to(self, device):
        rows = None if self.rows is None else self.rows.to(device)
        return TensorSet(self._x.to(device), self.y.to(device), self.idx, self.augment, rows)

    def subset(self, positions):
        """A copy of the examples at these positions (copies only those images)."""
        positions = torch.as_tensor(positions, dtype=torch.long)
        return TensorSet(self._x[self._rows_of(positions.to(self._x.device))],
                         self.y[positions.to(self.y.device)], self.idx[positions], self.augment)

    def view(self, positions):
        """The examples at these positions, sharing this set's images (no copy of x)."""
        positions = torch.as_tensor(positions, dtype=torch.long)
        return TensorSet(self._x, self.y[positions.to(self.y.device)], self.idx[positions], self.augment,
                         self._rows_of(positions.to(self._x.device)))

    def select(self, original_indices, view=False):
        """The examples with these original indices, in the given order (a view if view=True)."""
        pos = positions_of(self.idx, original_indices)
        return self.view(pos) if view else self.subset(pos)

    def with_labels(self, y):
        return TensorSet(self._x, y.to(self.y.device), self.idx, self.augment, self.rows)

    def with_augment(self, augment):
        return TensorSet(self._x, self.y, self.idx, augment, self.rows)

    def join(self, other):
        """The union (self's examples first), original indices kept; no image copy when both are
        views of the same images."""
        y, idx = torch.cat([self.y, other.y]), torch.cat([self.idx, other.idx])
        if self._x is other._x:
            n_self = torch.arange(len(self), device=self._x.device)
            n_other = torch.arange(len(other), device=self._x.device)
            rows = torch.cat([self._rows_of(n_self), other._rows_of(n_other)])
            return TensorSet(self._x, y, idx, self.augment, rows)
        return TensorSet(torch.cat([self.x, other.x]), y, idx, self.augment)

    def batches(self, batch_size, shuffle=False, augment=False, generator=None, drop_last=False,
                with_index=False, flip_epoch=None):
        """Yield (x, y[, idx]) with x as float in [0,1] on the data's device.

        Under data parallelism (engine/distributed.py) a shuffled pass yields this rank's shard
        of every global batch; unshuffled passes (evaluation) are not sharded."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        device_order = to_device(order, self._x.device)  # one host->device copy per pass
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for start in range(0, stop, batch_size):
            pos, dpos = order[start:start + batch_size], device_order[start:start + batch_size]
            part = None
            if shuffle and distributed.active():
                a, b = distributed.take_shard(len(pos))
                part, pos, dpos = (a, b, len(pos)), pos[a:b], dpos[a:b]
            x = self._x[self._rows_of(dpos)]
            if augment and flip_epoch is not None:  # --recipe fast: alternating, not random, flip
                x = augment_batch(x, generator=generator, part=part, **{**self.augment, "flip": False})
                if self.augment.get("flip"):
                    x = alternating_flip(x, self.idx[pos], flip_epoch)
            elif augment:
                x = augment_batch(x, generator=generator, part=part, **self.augment)
            x = to_float(x)
            if with_index:
                yield x, self.y[dpos.to(self.y.device)], self.idx[pos]
            else:
                yield x, self.y[dpos.to(self.y.device)]


def positions_of(all_idx, wanted):
    """Positions in `all_idx` of each original index in `wanted`; unknown indices are an error."""
    all_idx = np.asarray(all_idx, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64)
    order = np.argsort(all_idx, kind="stable")
    sorted_idx = all_idx[order]
    pos = np.searchsorted(sorted_idx, wanted)
    pos = np.clip(pos, 0, len(sorted_idx) - 1)
    if len(wanted) and not np.all(sorted_idx[pos] == wanted):
        missing = wanted[sorted_idx[pos] != wanted]
        raise UserError(f"{len(missing)} index(es) not in this set, e.g. {missing[:5].tolist()}")
    return torch.as_tensor(order[pos], dtype=torch.long)
