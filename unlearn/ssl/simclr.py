"""SimCLR pre-training: an encoder from the --arch registry (its `features`),
a projection head Linear -> ReLU -> Linear to 128-d, NT-Xent over two batched augmented views.

Output, `<save_dir>/simclr/`: `model.pt` + `model.json` (the encoder, as any checkpoint; its
classifier head `fc` is untouched) and `head.pt` (the projection head's state_dict; its sizes and
the training settings are in model.json under "simclr").
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import datasets
import models
from datasets import DataFlags
from engine import recipe
from engine.config import RunFlags
from engine.recipe import OptimFlags
from models import build_args, load_model, save_model
from engine.device import prepare_model, select
from engine.errors import UserError
from engine.io import check_schema, load_state, read_json, save_state
from engine.seed import generator, seed_everything
from engine.train import Trainer
from .views import simclr_view

SIMCLR_SHUFFLE = 201  # generator offset of the pre-training stream


class ProjectionHead(nn.Module):
    def __init__(self, in_dim, hidden=None, out_dim=128):
        super().__init__()
        hidden = hidden or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.sizes = {"in_dim": int(in_dim), "hidden": int(hidden), "out_dim": int(out_dim)}

    def forward(self, h):
        return self.net(h)


class SimCLRNet(nn.Module):
    """encoder.features -> projection head."""

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x):
        return self.head(self.encoder.features(x))


def nt_xent(z1, z2, temperature=0.5, flip=None):
    """NT-Xent over 2B rows: row i's positive is its other view, the 2B-2 other rows are its
    negatives, cross-entropy with the positive in column 0. `flip` (B flags, 1 = forget) negates
    the positive similarity of those examples (both views), so minimising pushes their two views
    apart (the capstone's contrastive unlearning term)."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n2 = z.shape[0]
    b = n2 // 2
    sim = z @ z.t()
    rows = torch.arange(n2, device=z.device)
    partner = (rows + b) % n2
    pos = sim[rows, partner]
    if flip is not None:
        pos = pos * (1 - 2 * flip.to(z.device, z.dtype).repeat(2))
    keep = torch.ones(n2, n2, dtype=torch.bool, device=z.device)
    keep[rows, rows] = False
    keep[rows, partner] = False
    neg = sim[keep].view(n2, n2 - 2)
    logits = torch.cat([pos[:, None], neg], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(n2, dtype=torch.long, device=z.device))


@dataclass(frozen=True)
class SimCLRConfig(DataFlags, RunFlags, OptimFlags):
    """simclr.py: SimCLR pre-training of an encoder (Adam, cosine schedule)."""
    batch_size: int = 256
    epochs: int = 15
    lr: float = 3e-3
    weight_decay: float = 1e-4
    temperature: float = 0.5
    out_dim: int = 128
    hidden: int | None = None


def default_arch(args, bundle):
    """The original model's architecture when there is one, so the head fits its features."""
    meta = Path(args.save_dir) / "original" / "model.json"
    if args.arch:
        return models.check_arch(args.arch)
    if meta.exists():
        return read_json(meta, "original model description")["build"]["arch"]
    return bundle.default_arch


def train_simclr(args):
    """Pre-train on the training part of the saved split (forget examples included, as the
    capstone); returns (summary dict, output folder)."""
    if args.temperature <= 0:
        raise UserError(f"--temperature must be > 0, got {args.temperature}")
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    device = select(args)
    bundle = datasets.bundle_from(args)
    arch = default_arch(args, bundle)
    data = datasets.attach(args, bundle, device, create_split=True)
    if len(data.train) < 2:
        raise UserError("SimCLR needs at least 2 training images")
    seed_everything(args.seed)
    build = build_args(arch, data)
    encoder = prepare_model(models.build_model(**build), device)
    head = ProjectionHead(encoder.feature_dim, args.hidden, args.out_dim).to(device)
    net = SimCLRNet(encoder, head)
    params = [p for n, p in net.named_parameters() if not n.startswith("encoder.fc.")]
    batch = min(args.batch_size, len(data.train))
    steps = max(1, len(data.train) // batch)
    h = Trainer(net, **recipe.trainer_kwargs(args, steps), params=params, optimizer="adam", desc="simclr")
    gen = generator(args.seed, SIMCLR_SHUFFLE)
    flip = bool(bundle.augment.get("flip"))
    history = []
    start = time.perf_counter()
    for _ in h.epochs():
        net.train()
        losses = []
        for x, _ in data.train.batches(batch, shuffle=True, generator=gen, drop_last=True):
            v1, v2 = simclr_view(x, gen, flip), simclr_view(x, gen, flip)
            with h.autocast():
                loss = nt_xent(net(v1), net(v2), args.temperature)
            losses.append(h.step(loss))
        history.append(float(torch.stack(losses).double().mean()))
        if not math.isfinite(history[-1]):
            raise UserError(f"SimCLR diverged (NT-Xent became {history[-1]} in epoch {len(history)}); lower --lr")
    wall = time.perf_counter() - start
    probe = knn_probe(encoder, data.train, data.test)
    out = Path(args.save_dir) / "simclr"
    summary = {"arch": arch, "temperature": args.temperature, "epochs": args.epochs, "lr": args.lr,
               "batch_size": batch, "head": head.sizes, "loss_history": history,
               "knn_test_accuracy": probe, "wall_time_s": wall}
    summary["head_sha256"] = save_state(out / "head.pt", {k: v.detach().cpu() for k, v in head.state_dict().items()})
    save_model(out, encoder, build, dataset=args.dataset, split_sha=data.split.sha, seed=args.seed,
               simclr=summary)  # model.json last: its presence marks a finished run
    return summary, out


@torch.no_grad()
def encode(encoder, tset, batch_size=1024):
    encoder.eval()
    out = [encoder.features(x) for x, _ in tset.batches(batch_size)]
    return torch.cat(out).float() if out else torch.zeros(0, encoder.feature_dim)


def knn_probe(encoder, train, test, limit=5000):
    """Top-1 accuracy (%) of the nearest training feature (cosine) on the test set: a label-free
    check that the encoder learned something, printed and recorded, never used for training."""
    if len(train) == 0 or len(test) == 0:
        return float("nan")
    tr = train.subset(torch.arange(min(limit, len(train))))
    te = test.subset(torch.arange(min(limit, len(test))))
    a, b = F.normalize(encode(encoder, tr), dim=1), F.normalize(encode(encoder, te), dim=1)
    pred = tr.y.to(a.device)[(b @ a.t()).argmax(1)]
    return 100.0 * (pred == te.y.to(a.device)).float().mean().item()


def load_simclr(path, data, device):
    """(encoder, head) of a pre-trained SimCLR model, both frozen in eval mode on the device."""
    path = Path(path)
    hint = f"pre-train one: python simclr.py --dataset {data.bundle.name} --save_dir {path.parent}"
    encoder, meta = load_model(path, data, what="SimCLR model", hint=hint)
    if not isinstance(meta.get("simclr"), dict):
        raise UserError(f"{path / 'model.json'} is not a SimCLR model (no 'simclr' section); {hint}")
    info = check_schema(meta["simclr"], {"head": dict, "head_sha256": str}, f"SimCLR model {path / 'model.json'}")
    sizes = check_schema(info["head"], {"in_dim": int, "hidden": int, "out_dim": int},
                         f"SimCLR head sizes in {path / 'model.json'}")
    head = ProjectionHead(sizes["in_dim"], sizes["hidden"], sizes["out_dim"])
    state = load_state(path / "head.pt", "SimCLR projection head", hint, sha256=info["head_sha256"])
    try:
        head.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"SimCLR head {path / 'head.pt'} does not match its model.json "
                        f"({str(e).splitlines()[0]}); {hint}")
    encoder, head = prepare_model(encoder, device), head.to(device)
    for m in (encoder, head):
        m.eval()
        m.requires_grad_(False)
    return encoder, head, meta
