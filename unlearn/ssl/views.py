"""Batched image augmentations on tensors in [0, 1] (no PIL), drawn from a private generator.

Every function takes a whole batch `x` [N, C, H, W] on any device and returns a batch of the same
shape. Random numbers are drawn on the CPU from `gen` (so a seed gives the same views on every
device) and moved to x's device. Models normalise their own input, so views stay in [0, 1]
(the capstone fed [0,1] SimCLR views to a model that expected normalised images).
"""
import math

import torch
import torch.nn.functional as F

GRAY = (0.299, 0.587, 0.114)


def uniform(n, low, high, gen, device):
    return (torch.rand(n, generator=gen) * (high - low) + low).to(device)


def coin(n, p, gen, device):
    return (torch.rand(n, generator=gen) < p).to(device)


def warp(x, theta):
    """Resample each image through its own 2x3 affine map (output coords -> input coords),
    bilinear, reflecting at the border so no black corners appear."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_resized_crop(x, gen, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """RandomResizedCrop for a batch: per image an area fraction and aspect ratio, a window inside
    the image, resampled back to full size. Windows wider than the image are clipped to it."""
    n, dev = x.shape[0], x.device
    area = uniform(n, scale[0], scale[1], gen, dev)
    log_r = uniform(n, math.log(ratio[0]), math.log(ratio[1]), gen, dev)
    r = torch.exp(log_r)
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = uniform(n, -1, 1, gen, dev) * (1 - w)
    cy = uniform(n, -1, 1, gen, dev) * (1 - h)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = w, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    return warp(x, theta)


def random_affine(x, gen, degrees=10.0, translate=0.1, scale=(0.9, 1.1)):
    """Small rotation, shift and zoom per image (the 'small geometric jitter' of simple
    augmentation)."""
    n, dev = x.shape[0], x.device
    angle = uniform(n, -degrees, degrees, gen, dev) * math.pi / 180
    s = uniform(n, scale[0], scale[1], gen, dev)
    tx = uniform(n, -translate, translate, gen, dev) * 2  # grid units span [-1, 1]
    ty = uniform(n, -translate, translate, gen, dev) * 2
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    return warp(x, theta)


def random_flip(x, gen, p=0.5):
    flip = coin(x.shape[0], p, gen, x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def grayscale(x):
    if x.shape[1] != 3:
        return x
    w = torch.tensor(GRAY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True).expand_as(x)


def colour_jitter(x, gen, brightness=0.4, contrast=0.4, saturation=0.4, p=0.8):
    """Brightness, contrast and (for RGB) saturation factors in [1-s, 1+s], applied to a random
    p-fraction of the batch; hue is left out (it needs an HSV round trip for little gain)."""
    n, dev = x.shape[0], x.device
    on = coin(n, p, gen, dev)[:, None, None, None]
    out = x * uniform(n, 1 - brightness, 1 + brightness, gen, dev)[:, None, None, None]
    mean = grayscale(out).mean((1, 2, 3), keepdim=True)
    out = (out - mean) * uniform(n, 1 - contrast, 1 + contrast, gen, dev)[:, None, None, None] + mean
    if x.shape[1] == 3:
        gray = grayscale(out)
        out = (out - gray) * uniform(n, 1 - saturation, 1 + saturation, gen, dev)[:, None, None, None] + gray
    return torch.where(on, out.clamp(0, 1), x)


def random_grayscale(x, gen, p=0.2):
    if x.shape[1] != 3:
        return x
    on = coin(x.shape[0], p, gen, x.device)[:, None, None, None]
    return torch.where(on, grayscale(x), x)


def gaussian_noise(x, gen, sigma=0.03):
    noise = torch.randn(tuple(x.shape), generator=gen).to(x.device, x.dtype)
    return (x + sigma * noise).clamp(0, 1)


def crop_scale(x):
    """SimCLR's (0.08, 1) crops leave a few pixels of an 8x8 digit; small images get milder crops."""
    return (0.08, 1.0) if min(x.shape[2:]) >= 32 else (0.35, 1.0)


def simclr_view(x, gen, flip=False, strength=1.0):
    """One SimCLR view of every image (the capstone's pipeline, adapted: docs/deviations.md):
    resized crop, optional flip, colour jitter (p 0.8), grayscale (p 0.2, RGB only) and a little
    noise in place of the blur."""
    s = strength
    x = random_resized_crop(x, gen, scale=crop_scale(x))
    if flip:
        x = random_flip(x, gen)
    x = colour_jitter(x, gen, 0.8 * s, 0.8 * s, 0.8 * s, p=0.8)
    x = random_grayscale(x, gen, p=0.2)
    return gaussian_noise(x, gen, sigma=0.02 * s)


def jitter_view(x, gen, flip=False):
    """The 'simple' forget-set augmentation (with the noise the capstone's README promised and
    its code lacked): small rotation/shift/zoom, optional flip, mild colour jitter, Gaussian
    noise."""
    x = random_affine(x, gen)
    if flip:
        x = random_flip(x, gen)
    x = colour_jitter(x, gen, 0.2, 0.2, 0.2, p=1.0)
    return gaussian_noise(x, gen, sigma=0.03)
