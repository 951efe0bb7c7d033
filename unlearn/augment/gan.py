"""Small GAN building blocks and the generator checkpoint format shared by ARPL and OpenGAN.

A generator checkpoint is a folder with `generator.pt` (state_dict, loaded with weights_only=True,
strictly) and `generator.json` (kind, how to rebuild it, and what it was trained for: data set,
split, forget set, start model), so a generator made for another data set or forget set is
refused with one line instead of silently loading nothing (the capstone loaded its generator
non-strictly under mismatched key names, so it kept its random initialisation).
"""
import contextlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import UserError
from engine.io import check_schema, load_state, read_json, save_state, write_json


def dcgan_init(module):
    """Conv/linear weights N(0, 0.02), BN gamma N(1, 0.02) and beta 0 (DCGAN's init, which both of
    the capstone's GANs used)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class ImageGenerator(nn.Module):
    """z -> image in [0, 1] of shape (C, H, W): a DCGAN-style upsampling stack sized to the data
    set (two 2x stages from ceil(H/4) x ceil(W/4), resized to H x W when not a multiple of 4)."""

    def __init__(self, nz, shape, ngf=64):
        super().__init__()
        c, h, w = (int(s) for s in shape)
        self.nz, self.shape, self.ngf = int(nz), (c, h, w), int(ngf)
        self.h0, self.w0 = math.ceil(h / 4), math.ceil(w / 4)
        self.project = nn.Sequential(nn.Linear(nz, 2 * ngf * self.h0 * self.w0),
                                     nn.BatchNorm1d(2 * ngf * self.h0 * self.w0), nn.ReLU())
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(2 * ngf, ngf, 3, padding=1, bias=False),
            nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(ngf, ngf // 2, 3, padding=1, bias=False),
            nn.BatchNorm2d(ngf // 2), nn.ReLU(),
            nn.Conv2d(ngf // 2, c, 3, padding=1))
        dcgan_init(self)

    def forward(self, z):
        x = self.body(self.project(z).view(len(z), 2 * self.ngf, self.h0, self.w0))
        if tuple(x.shape[2:]) != self.shape[1:]:
            x = F.interpolate(x, size=self.shape[1:], mode="bilinear", align_corners=False)
        return torch.sigmoid(x)

    def build(self):
        return {"nz": self.nz, "shape": list(self.shape), "ngf": self.ngf}


class ImageDiscriminator(nn.Module):
    """image -> real/fake logit (BCE-with-logits: the capstone's Sigmoid + BCE, stably)."""

    def __init__(self, shape, ndf=64):
        super().__init__()
        c = int(shape[0])
        self.body = nn.Sequential(
            nn.Conv2d(c, ndf, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, 2 * ndf, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * ndf),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(4 * ndf),
            nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * ndf, 1))
        dcgan_init(self)

    def forward(self, x):
        return self.body(x).squeeze(1)


class FeatureGenerator(nn.Module):
    """z -> a penultimate-layer feature vector (OpenGAN's 1x1-conv MLP as a plain MLP, made
    shallower; docs/deviations.md): BN + ReLU on the hidden layers, no output activation."""

    def __init__(self, nz, dim, hidden=256):
        super().__init__()
        self.nz, self.dim, self.hidden = int(nz), int(dim), int(hidden)
        layers, width = [], nz
        for out in (hidden, hidden, hidden):
            layers += [nn.Linear(width, out, bias=False), nn.BatchNorm1d(out), nn.ReLU()]
            width = out
        self.body = nn.Sequential(*layers, nn.Linear(width, dim))
        dcgan_init(self)

    def forward(self, z):
        return self.body(z)

    def build(self):
        return {"nz": self.nz, "dim": self.dim, "hidden": self.hidden}


class FeatureDiscriminator(nn.Module):
    def __init__(self, dim, hidden=256):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, hidden // 2), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden // 2, 1))
        dcgan_init(self)

    def forward(self, f):
        return self.body(f).squeeze(1)


@contextlib.contextmanager
def tiny_model_threads(device):
    """One intra-op thread on the CPU: these nets are too small to gain from more, and on a busy
    machine extra threads spin-wait (a 50x slowdown was measured on 2 shared cores)."""
    before = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bce(logits, real):
    target = torch.full_like(logits, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(logits, target)


def noise(n, nz, gen, device):
    return torch.randn(n, nz, generator=gen).to(device)


def gan_step(G, D, opt_g, opt_d, real, nz, gen, g_extra=None):
    """One DCGAN step on a batch of real samples: the discriminator, then the generator, whose
    loss gains `g_extra(fake)` when given (ARPL's reciprocal-point term). Returns
    (d_loss, g_loss, fake)."""
    G.train(), D.train()
    fake = G(noise(len(real), nz, gen, real.device))
    opt_d.zero_grad()
    d_loss = bce(D(real), True) + bce(D(fake.detach()), False)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(D(fake), True)
    if g_extra is not None:
        g_loss = g_loss + g_extra(fake)
    g_loss.backward()
    opt_g.step()
    return d_loss, g_loss, fake


# ---- checkpoints -------------------------------------------------------------------------------

def train_hint(kind, cfg):
    return (f"train it: python -m unlearn.augment train --kind {kind} --dataset {cfg.dataset} "
            f"--save_dir {cfg.save_dir} (with the same forget-set flags)")


def generator_dir(save_dir, kind, forget_set_name):
    return Path(save_dir) / "augment" / kind / forget_set_name


GENERATOR_JSON = {"kind": str, "dataset": str, "split_sha": str, "forget_sha256": str, "build": dict,
                  "sha256": str}


def save_generator(folder, generator, meta):
    """generator.pt, then generator.json (its build, data, forget set and checksum): last, so its
    presence marks a complete generator. A generator with NaN/inf weights is refused, not saved."""
    folder = Path(folder)
    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise UserError("the generator's weights became NaN/inf (its training diverged); lower --gan_lr")
    sha = save_state(folder / "generator.pt", state)
    write_json(folder / "generator.json", {**meta, "build": generator.build(), "sha256": sha})


def load_generator(folder, kind, data, forget_set, hint):
    """Rebuild and strictly load a generator; refuse one made for another kind, data set, split,
    forget set or feature size. Returns (generator in eval mode on CPU, meta)."""
    folder = Path(folder)
    what = f"{kind} generator"
    if not (folder / "generator.json").is_file():
        raise UserError(f"{what} not found: {folder / 'generator.json'}; {hint}")
    meta = read_json(folder / "generator.json", f"{what} description", schema={"kind": str})
    if meta.get("kind") != kind:
        raise UserError(f"{folder} holds a {meta.get('kind')!r} generator, not {kind!r}; {hint}")
    if meta.get("dataset") != data.bundle.name or meta.get("split_sha") != data.split.sha:
        raise UserError(f"{what} {folder} was trained on data set {meta.get('dataset')!r} "
                        f"(another data split or set), not {data.bundle.name!r} in this --save_dir; {hint}")
    if meta.get("forget_sha256") != forget_set.sha256:
        raise UserError(f"{what} {folder} was trained for forget set {meta.get('forget_set')!r}, "
                        f"not {forget_set.name!r}; {hint}")
    check_schema(meta, GENERATOR_JSON, f"{what} description {folder / 'generator.json'}")
    build = meta["build"]
    try:
        net = ImageGenerator(**build) if kind == "arpl" else FeatureGenerator(**build)
    except (TypeError, ValueError) as e:
        raise UserError(f"{what} description {folder / 'generator.json'} cannot rebuild it ({e}); {hint}")
    state = load_state(folder / "generator.pt", what, hint, sha256=meta["sha256"])
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{what} {folder / 'generator.pt'} does not match its generator.json "
                        f"({str(e).splitlines()[0]}); {hint}")
    net.eval().requires_grad_(False)
    return net, meta
