import contextlib
import contextvars

import torch

from engine.device import autocast


@contextlib.contextmanager
def eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def embeddings(model, tset, batch_size=1024):
    """Penultimate features φ(x) = model.features(x) of every example of the set, in order, eval
    mode, as float64 on the CPU (ES needs exact means; t-SNE takes them too)."""
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for x, _ in tset.batches(batch_size):  # no augmentation, no shuffle
            out.append(model.features(x.to(device)).double().flatten(1).cpu())
    if not out:
        return torch.zeros(0, getattr(model, "feature_dim", 0), dtype=torch.float64)
    return torch.cat(out)


_SHARED = contextvars.ContextVar("shared_logits", default=None)


@contextlib.contextmanager
def shared_logits():
    """Within this block each (model, set) is predicted once: an evaluation reads the forget and
    test sets' logits for the accuracies, the MIA and the attacks, and a model does not change
    while it is being evaluated."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def predict_logits(model, tset, batch_size=1024):
    """Logits (float32, on the data's device) for every example of an index-tracked set, in order."""
    cache = _SHARED.get()
    if cache is None:
        return _predict_logits(model, tset, batch_size)
    key = (id(model), id(tset))  # both stay alive for the block: cache holds them
    if key not in cache:
        cache[key] = (model, tset, _predict_logits(model, tset, batch_size))
    return cache[key][2]


@torch.no_grad()
def _predict_logits(model, tset, batch_size):
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for x, _ in tset.batches(batch_size):
            with autocast(device):
                out.append(model(x.to(device)).float())
    if not out:
        return torch.zeros(0, model.fc.out_features, device=device)
    return torch.cat(out)


def accuracy(model, tset, batch_size=1024):
    """Top-1 accuracy in percent; NaN for an empty set (never a made-up number)."""
    if len(tset) == 0:
        return float("nan")
    logits = predict_logits(model, tset, batch_size)
    return 100.0 * (logits.argmax(1) == tset.y.to(logits.device)).float().mean().item()


def accuracies(model, sets, batch_size=1024):
    return {name: accuracy(model, s, batch_size) for name, s in sets.items()}
