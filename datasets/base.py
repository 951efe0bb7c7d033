"""What every data set gives: in-memory tensors plus a stable original index for every example.

`Bundle` is the raw official train/test split of a data set. `Split` carves the validation set out
of the official train split (seeded, saved, reused). `TensorSet` is an index-tracked subset that
yields device-resident batches with batched augmentation.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

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


def augment_batch(x, pad=0, flip=False, generator=None):
    """Random crop with zero padding and horizontal flip, for a whole batch at once on x's device."""
    n, _, h, w = x.shape
    if pad:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # n,1,h,1
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # n,1,1,w
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, chan, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


class TensorSet:
    """Examples addressed by original index; x stays on its device, batches are sliced from it."""

    def __init__(self, x, y, idx, augment=None):
        self.x, self.y = x, y
        self.idx = torch.as_tensor(idx, dtype=torch.long)
        self.augment = augment or {"pad": 0, "flip": False}

    def __len__(self):
        return len(self.y)

    def to(self, device):
        return TensorSet(self.x.to(device), self.y.to(device), self.idx, self.augment)

    def subset(self, positions):
        positions = torch.as_tensor(positions, dtype=torch.long)
        return TensorSet(self.x[positions.to(self.x.device)], self.y[positions.to(self.y.device)],
                         self.idx[positions], self.augment)

    def select(self, original_indices):
        """The examples with these original indices, in the given order."""
        pos = positions_of(self.idx, original_indices)
        return self.subset(pos)

    def with_labels(self, y):
        return TensorSet(self.x, y.to(self.y.device), self.idx, self.augment)

    def batches(self, batch_size, shuffle=False, augment=False, generator=None, drop_last=False,
                with_index=False):
        """Yield (x, y[, idx]) with x as float in [0,1] on the data's device."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for start in range(0, stop, batch_size):
            pos = order[start:start + batch_size]
            dpos = pos.to(self.x.device)
            x = to_float(self.x[dpos])
            if augment:
                x = augment_batch(x, generator=generator, **self.augment)
            if with_index:
                yield x, self.y[dpos], self.idx[pos]
            else:
                yield x, self.y[dpos]


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
