"""scikit-learn's bundled 8x8 digits: the offline default.

There is no official test split, so a fixed, seeded, stratified 80/20 split plays that role; its
train part is the "official training split" whose row numbers are the original indices.
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from . import register
from .base import Bundle

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed for ever: changing it would renumber every original index


@register("digits")
def load_digits_bundle(root, download, **options):
    raw = load_digits()
    x = (raw.images.astype(np.float32) / 16.0)[:, None]  # pixel values are 0..16
    y = raw.target.astype(np.int64)
    tr, te = train_test_split(np.arange(len(y)), test_size=TEST_FRACTION, stratify=y,
                              random_state=SPLIT_SEED)
    train_x = torch.from_numpy(x[tr])
    mean, std = float(train_x.mean()), float(train_x.std())
    return Bundle("digits", train_x, torch.from_numpy(y[tr]), torch.from_numpy(x[te]),
                  torch.from_numpy(y[te]), 10, (mean,), (std,),
                  augment={"pad": 1, "flip": False}, default_arch="cnn")
