"""Data set registry (`--dataset`). Adding a data set is one module and one `@register`.

Every loader returns a `Bundle` of in-memory tensors; `prepare_data` adds the saved validation
split and moves everything to the device once. `forget_sets` chooses and saves what a run forgets.

Layer: data, beside `models`, right above `engine`; it imports `engine` only, so any layer above
may use it.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError
from engine.registry import Registry, import_all
from engine.io import ensure_writable_dir, read_json, sha256_of_indices, write_json
from .base import Bundle, TensorSet

LOADERS = Registry("--dataset")
register = LOADERS.register  # @register("name") adds a loader under the value of --dataset


def load_bundle(name, data=None, download=False, **options):
    return LOADERS.lookup(name)(Path(data) if data else None, download, **options).validate()


@dataclass
class Split:
    """Validation carve-out of the official train split, by original index."""
    dataset: str
    val_size: float
    seed: int
    n_total: int
    val_idx: np.ndarray
    train_idx: np.ndarray

    @property
    def sha(self):
        return sha256_of_indices(self.val_idx) + ":" + str(self.n_total)

    def describe(self):
        return {"dataset": self.dataset, "val_size": self.val_size, "split_seed": self.seed,
                "n_total": self.n_total, "n_train": len(self.train_idx), "n_val": len(self.val_idx),
                "sha256": sha256_of_indices(self.val_idx)}


def make_split(labels, dataset, val_size, seed):
    """Per class, floor(val_size * n_c) examples go to validation (RUM's rule), seeded."""
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    val = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = int(np.floor(val_size * len(members)))
        if k:
            val.append(rng.choice(members, k, replace=False))
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)  # explicit sorted difference
    return Split(dataset, float(val_size), int(seed), len(labels), val_idx.astype(np.int64),
                 train_idx.astype(np.int64))


def split_path(save_dir):
    return Path(save_dir) / "split.json"


def load_or_make_split(save_dir, labels, dataset, val_size, seed, create=True):
    """Reuse `<save_dir>/split.json` so every script sees the same split; create it the first time."""
    path = split_path(save_dir)
    if not path.exists():
        if not create:
            raise UserError(f"no data split in {save_dir} (missing {path.name}); "
                            f"train the original model first: python main_train.py --dataset {dataset} "
                            f"--save_dir {save_dir}")
        split = make_split(labels, dataset, 0.1 if val_size is None else val_size, seed)
        write_json(path, {**split.describe(), "val_idx": split.val_idx})
        return split
    saved = read_json(path, "split file")
    try:
        split = Split(saved["dataset"], saved["val_size"], saved["split_seed"], saved["n_total"],
                      np.asarray(saved["val_idx"], dtype=np.int64), None)
        checksum = saved["sha256"]
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise UserError(f"split file {path} is corrupt ({e}); delete it to make a new split")
    if split.dataset != dataset or split.n_total != len(labels):
        raise UserError(f"{path} belongs to data set {split.dataset} ({split.n_total} examples), "
                        f"not {dataset} ({len(labels)}); use another --save_dir")
    if sha256_of_indices(split.val_idx) != checksum:
        raise UserError(f"split file {path} fails its checksum; delete it to make a new split")
    if split.val_idx.ndim != 1 or len(split.val_idx) and (split.val_idx.min() < 0 or split.val_idx.max() >= split.n_total) \
            or len(np.unique(split.val_idx)) != len(split.val_idx):
        raise UserError(f"split file {path} lists validation indices outside 0..{split.n_total - 1} or twice; "
                        "delete it to make a new split")
    if val_size is not None and abs(float(val_size) - split.val_size) > 1e-12:
        raise UserError(f"{path} was made with --val_size {split.val_size}, not {val_size}; "
                        "use another --save_dir or drop --val_size")
    split.train_idx = np.setdiff1d(np.arange(split.n_total), split.val_idx)
    return split


@dataclass
class Data:
    """What scripts use: train (D), val (V) and test sets on the device, plus the raw bundle."""
    bundle: Bundle
    split: Split
    train: TensorSet
    val: TensorSet
    test: TensorSet

    @property
    def num_classes(self):
        return self.bundle.num_classes


def prepare_data(bundle, save_dir, device="cpu", val_size=None, split_seed=0, no_aug=False,
                 create_split=True):
    """Attach the saved split to a loaded bundle and move the tensors to the device once."""
    aug = {"pad": 0, "flip": False} if no_aug else dict(bundle.augment)
    split = load_or_make_split(save_dir, bundle.train_y.numpy(), bundle.name, val_size, split_seed,
                               create_split)
    full = TensorSet(bundle.train_x.to(device), bundle.train_y.to(device),
                     torch.arange(len(bundle.train_y)), aug)
    test = TensorSet(bundle.test_x.to(device), bundle.test_y.to(device),
                     torch.arange(len(bundle.test_y)), aug)
    # views: train and val share the one copy of the images (no second copy of the data set)
    return Data(bundle, split, full.view(split.train_idx), full.view(split.val_idx), test)


@dataclass(frozen=True)
class DataFlags:
    """Which data set a run uses and how its training split is carved and augmented."""
    dataset: str = "digits"
    data: str | None = None
    download: bool = False
    val_size: float | None = None
    split_seed: int = 0
    no_aug: bool = False
    synth_n: int = 2000
    synth_shape: str = "1x8x8"
    synth_label_noise: float = 0.03


def data_options(cfg):
    """Loader options that come from flags (only the synthetic set has any)."""
    if cfg.dataset != "synthetic":
        return {}
    return {"synth_n": cfg.synth_n, "synth_shape": cfg.synth_shape,
            "synth_label_noise": cfg.synth_label_noise}


def bundle_from(cfg):
    """The data set named by a run's data flags (--dataset --data --download --synth_*)."""
    return load_bundle(cfg.dataset, cfg.data, cfg.download, **data_options(cfg))


def attach(cfg, bundle, device, create_split):
    """The saved split of `cfg.save_dir` (created only when `create_split`: main_train and
    simclr), after the data set and flags were validated; tensors moved to `device` once."""
    save_dir = ensure_writable_dir(cfg.save_dir) if create_split else Path(cfg.save_dir)
    data = prepare_data(bundle, save_dir, device, cfg.val_size, cfg.split_seed, cfg.no_aug, create_split)
    # memory: data.train/data.val are views of the images on the device; on CUDA this frees the
    # host copy (on CPU they share it, so nothing changes)
    bundle.train_x = bundle.train_x.new_empty((0, *bundle.train_x.shape[1:]))
    return data


import_all(__name__, __path__)  # every module here registers its data set(s)
