"""scikit-learn's bundled 8x8 digits: the offline default.

There is no official test split, so a fixed, seeded, stratified 80/20 split plays that role; its
train part is the "official training split" whose row numbers are the original indices.
The CSV shipped inside scikit-learn is read directly: importing sklearn would add about a second
to the start-up of every script.
"""
import importlib.util
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError
from . import register
from .base import Bundle

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed for ever: changing it would renumber every original index


def digits_csv():
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.is_file():
        raise UserError("the digits data set ships with scikit-learn, which is not installed: "
                        "pip install -r requirements.txt")
    return path


def stratified_test_rows(labels, fraction, seed):
    rng = np.random.RandomState(seed)
    test = [rng.permutation(np.flatnonzero(labels == c))[:int(round(fraction * (labels == c).sum()))]
            for c in np.unique(labels)]
    return np.sort(np.concatenate(test))


@register("digits")
def load_digits_bundle(root, download, **options):
    """scikit-learn's bundled 8x8 digits (offline; the default)."""
    raw = np.loadtxt(digits_csv(), delimiter=",", dtype=np.float32)
    x = (raw[:, :64] / 16.0).reshape(-1, 1, 8, 8)  # pixel values are 0..16
    y = raw[:, 64].astype(np.int64)
    te = stratified_test_rows(y, TEST_FRACTION, SPLIT_SEED)
    tr = np.setdiff1d(np.arange(len(y)), te)
    train_x = torch.from_numpy(x[tr])
    mean, std = float(train_x.mean()), float(train_x.std())
    return Bundle("digits", train_x, torch.from_numpy(y[tr]), torch.from_numpy(x[te]),
                  torch.from_numpy(y[te]), 10, (mean,), (std,),
                  augment={"pad": 1, "flip": False}, default_arch="cnn")
