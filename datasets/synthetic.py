"""A synthetic long-tail set whose memorized examples are known in advance.

Each class is a union of sub-populations (a random prototype image plus pixel noise) whose
frequencies follow a Zipf law, so the tail holds singletons and tiny groups that a model can only
get right by memorizing them. A fraction of training labels is flipped. `extras` records, per
original index, which examples are rare and which are mislabeled: the ground truth for tests of
memorization estimators.
"""
import numpy as np
import torch

from engine.errors import UserError
from . import register
from .base import Bundle

DATA_SEED = 12345  # the data set is part of the benchmark, not of a run: fixed


def parse_shape(shape):
    try:
        dims = tuple(int(v) for v in str(shape).lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise UserError(f"--synth_shape {shape!r} must look like 1x8x8 or 3x32x32")
    return dims


def smooth_prototypes(rng, count, shape):
    """Random low-frequency images: a coarse grid of noise upsampled, squashed into (0,1)."""
    c, h, w = shape
    coarse = torch.from_numpy(rng.standard_normal((count, c, max(2, h // 2), max(2, w // 2)))).float()
    fine = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return torch.sigmoid(2.0 * fine)


def subpopulation_sizes(num_classes, subpops, zipf):
    weights = np.tile(1.0 / np.arange(1, subpops + 1) ** zipf, num_classes)
    return weights / weights.sum()


@register("synthetic")
def load_synthetic(root, download, synth_n=2000, synth_shape="1x8x8", synth_classes=10,
                   synth_subpops=40, synth_zipf=1.3, synth_label_noise=0.03, synth_pixel_noise=0.08,
                   synth_rare_max=2, **options):
    """A synthetic long-tail set with planted rare sub-populations and flipped labels (--synth_*)."""
    shape = parse_shape(synth_shape)
    if synth_n < 10 * synth_classes:
        raise UserError(f"--synth_n {synth_n} is too small for {synth_classes} classes")
    if not 0 <= synth_label_noise < 1:
        raise UserError(f"--synth_label_noise {synth_label_noise} must be in [0, 1)")
    rng = np.random.RandomState(DATA_SEED)
    n_sub = synth_classes * synth_subpops
    protos = smooth_prototypes(rng, n_sub, shape)
    probs = subpopulation_sizes(synth_classes, synth_subpops, synth_zipf)
    n_test = max(synth_n // 4, synth_classes)

    def draw(n):
        sub = rng.choice(n_sub, size=n, p=probs)
        noise = torch.from_numpy(rng.standard_normal((n, *shape))).float() * synth_pixel_noise
        return sub, (protos[sub] + noise).clamp_(0, 1), sub // synth_subpops

    train_sub, train_x, train_y = draw(synth_n)
    test_sub, test_x, test_y = draw(n_test)
    noisy = rng.rand(synth_n) < synth_label_noise
    shift = rng.randint(1, synth_classes, size=synth_n)  # never the true class
    train_y = np.where(noisy, (train_y + shift) % synth_classes, train_y)

    counts = np.bincount(train_sub, minlength=n_sub)
    rare = counts[train_sub] <= synth_rare_max
    mean = tuple(float(v) for v in train_x.mean(dim=(0, 2, 3)))
    std = tuple(float(v) for v in train_x.std(dim=(0, 2, 3)))
    extras = {"rare": rare, "mislabeled": noisy, "subpopulation": train_sub,
              "subpopulation_size": counts[train_sub]}
    return Bundle("synthetic", train_x, torch.from_numpy(train_y.astype(np.int64)), test_x,
                  torch.from_numpy(test_y.astype(np.int64)), synth_classes, mean, std,
                  augment={"pad": 0, "flip": False}, default_arch="cnn", extras=extras)
