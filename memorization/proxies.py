"""Cheap memorization proxies, one score per example of D (definitions: docs/reference.md).

`memorization_sign` says how to read a score: +1 when a higher value means more memorized
(ho_ret, curvature), -1 when a higher value means an easier, less memorized example
(confidence, max_conf, entropy = mean negative entropy, bi_acc).
"""
import copy
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import Diverged, UserError
from engine.io import read_npz
from engine.recipe import OptimFlags, trainer_kwargs
from engine.seed import generator
from engine.train import Trainer
from evaluation import accuracy, predict_logits
from models import model_sha256
from .common import check_positive, load_data, load_original, out_dir, run_record, train_hint, write_scores

# kind -> (learning-events key, sign)
EVENT_PROXIES = {"confidence": ("confidence", -1), "max_conf": ("max_conf", -1),
                 "entropy": ("neg_entropy", -1), "bi_acc": ("correct", -1)}
KINDS = (*EVENT_PROXIES, "ho_ret", "curvature")
DESCRIPTIONS = {  # one line each, for `python -m unlearn list`
    "heldout": "the heldout estimate itself (python -m memorization estimate): in-models minus out-models",
    "confidence": "mean true-class softmax confidence over the original training run (low = memorized)",
    "max_conf": "mean largest softmax probability over the original training run",
    "entropy": "mean negative entropy of the prediction over the original training run",
    "bi_acc": "mean correctness over the original training run (binary accuracy)",
    "ho_ret": "symmetric KL between the original and a copy fine-tuned on held-out data",
    "curvature": "input-loss curvature of the original model (finite differences along random directions)",
}
SIGNS = {**{k: s for k, (_, s) in EVENT_PROXIES.items()}, "ho_ret": +1, "curvature": +1}


@dataclass(frozen=True)
class ProxyFlags:
    """How the proxies that score a model's weights are computed (ho_ret's fine-tune, curvature's radii)."""
    ft_lr: float = 0.1
    ft_epochs: int = 30
    patience: int = 4
    h: str = "0.01"


# ---- learning events: confidence, max_conf, entropy, bi_acc -----------------------------------

def event_proxy(events, kind):
    """Mean over the epochs of the original training run (NaN-free: events use xlogy)."""
    key, _ = EVENT_PROXIES[kind]
    values = np.asarray(events[key], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        return np.nanmean(values, axis=0)


def load_events(args):
    path = Path(args.save_dir) / "original" / "learning_events.npz"
    events = read_npz(path, "learning events", hint=train_hint(args))
    missing = [k for k in ("index", *(key for key, _ in EVENT_PROXIES.values())) if k not in events]
    if missing:
        raise UserError(f"learning events {path} lack {', '.join(missing)}; rerun main_train.py")
    return path, events


# ---- heldout-retrain symmetric KL (ho_ret) ---------------------------------------------------

def fine_tune_on_heldout(model, heldout, lr, max_epochs, batch_size, seed, patience=4,
                         momentum=0.9, weight_decay=5e-4):
    """A copy of `model` fine-tuned on held-out data with constant-LR SGD, stopped once the summed
    epoch loss has not improved for `patience` epochs. Returns (model, epochs run)."""
    tuned = copy.deepcopy(model)
    steps = -(-len(heldout) // batch_size)
    plan = OptimFlags(epochs=max_epochs, lr=lr, momentum=momentum, weight_decay=weight_decay, scheduler="constant")
    h = Trainer(tuned, **trainer_kwargs(plan, steps), desc="ho_ret fine-tune")
    gen = generator(seed, offset=11)
    best, since_best, ran = float("inf"), 0, 0
    tuned.train()
    for _ in h.epochs():
        total = 0.0
        for x, y in heldout.batches(batch_size, shuffle=True, generator=gen):
            with h.autocast():
                loss = F.cross_entropy(tuned(x), y)
            total += h.step(loss)
        ran += 1
        if total < best:
            best, since_best = total, 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    return tuned.eval(), ran


def symmetric_kl(logits_p, logits_q):
    """½[KL(p||q) + KL(q||p)] per row, probabilities clamped below at 1e-10 (not renormalised)."""
    p = torch.softmax(logits_p.double(), 1).clamp_min(1e-10)
    q = torch.softmax(logits_q.double(), 1).clamp_min(1e-10)
    return 0.5 * ((p - q) * (p.log() - q.log())).sum(1)


def heldout_retrain(model, data, args):
    tuned, ran = fine_tune_on_heldout(model, data.test, args.ft_lr, args.ft_epochs, args.batch_size,
                                      args.seed, args.patience, args.momentum, args.weight_decay)
    score = symmetric_kl(predict_logits(model, data.train), predict_logits(tuned, data.train))
    info = {"ft_epochs_run": ran, "test_accuracy_before": accuracy(model, data.test),
            "test_accuracy_after": accuracy(tuned, data.test),
            "train_accuracy_after": accuracy(tuned, data.train)}
    return score.cpu().numpy(), info


# ---- input-loss curvature ---------------------------------------------------------------------

def loss_curvature(model, tset, h, batch_size=256):
    """‖∇_x [CE(f(x + z)) - CE(f(x))]‖₂ per example, z = h · sign(∇_x CE) scaled to L2 norm h
    (RUM's finite difference along the gradient sign), with the model in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for x, y in tset.batches(batch_size):
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), y, reduction="sum")
        g, = torch.autograd.grad(loss, x)
        s = g.sign().flatten(1)
        z = (h * (s + 1e-7) / (s.norm(dim=1, keepdim=True) + 1e-7)).view_as(x).detach()
        x = x.detach().requires_grad_(True)
        diff = F.cross_entropy(model(x + z), y, reduction="sum") - F.cross_entropy(model(x), y, reduction="sum")
        gd, = torch.autograd.grad(diff, x)
        out.append(gd.flatten(1).norm(dim=1).detach())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def parse_radii(text):
    try:
        radii = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--h {text!r} must be a number or a comma-separated list of numbers")
    if not radii or any(not (0 < r < float("inf")) for r in radii):
        raise UserError(f"--h {text!r}: every radius must be a positive finite number")
    return radii


def curvature(model, data, args):
    radii = parse_radii(args.h)
    per_radius = torch.stack([loss_curvature(model, data.train, r, args.batch_size) for r in radii])
    return per_radius.mean(0).cpu().numpy(), {"radii": radii}


# proxies computed from a model's weights alone, so any model can be scored (an unlearned one too);
# the learning-event proxies are averages over the original's training run and cannot be redone
# for another model without training it again
MODEL_PROXIES = {"ho_ret": heldout_retrain, "curvature": curvature}


# ---- command ---------------------------------------------------------------------------------

def check_settings(kind, flags):
    """The ProxyFlags that `kind` reads, checked."""
    if kind == "ho_ret":
        check_positive(flags.ft_lr, "--ft_lr")
        check_positive(flags.ft_epochs, "--ft_epochs", integer=True)
        check_positive(flags.patience, "--patience", integer=True)
    if kind == "curvature":
        parse_radii(flags.h)


def check_proxy_args(args):
    if args.kind not in KINDS:
        raise UserError(f"unknown --kind {args.kind!r}; choose one of {', '.join(KINDS)}")
    check_settings(args.kind, args)


def proxy(args):
    """The `proxy --kind K` command -> <save_dir>/memorization/<K>.npz (+ .json)."""
    check_proxy_args(args)
    device, data = load_data(args)
    start = time.perf_counter()
    if args.kind in EVENT_PROXIES:
        path, events = load_events(args)
        index = events["index"].astype(np.int64)
        if not np.array_equal(np.sort(index), np.sort(data.train.idx.numpy())):
            raise UserError(f"learning events {path} are not over the training set of this split; "
                            "rerun main_train.py for this --save_dir")
        # the events come from the original's own training forward passes (no extra pass), so
        # wall_time_s, their average, is the whole cost beyond training the original
        score, info = event_proxy(events, args.kind), {"source": str(path), "wall_time_scope": "events",
                                                       "epochs": int(events["confidence"].shape[0])}
    else:
        model, _ = load_original(args, data, device)
        index = data.train.idx.numpy()
        try:
            score, info = MODEL_PROXIES[args.kind](model, data, args)
            info.update(weights="final weights of the original model", wall_time_scope="weights")
        except Diverged as e:
            raise UserError(f"{args.kind}: {e}; lower --ft_lr")
    record = run_record(args, data.split, kind=args.kind, device=str(device), **info,
                        original_sha256=model_sha256(Path(args.save_dir) / "original"),
                        wall_time_s=time.perf_counter() - start)
    path = write_scores(out_dir(args.save_dir) / f"{args.kind}.npz", index, score, SIGNS[args.kind], record)
    return {"path": path, "score": np.asarray(score), "index": index, "sign": SIGNS[args.kind], **info}
