"""Memorization ensemble: the heldout estimator's batched path (models stacked and trained at once)
against one model at a time, the same models and epochs, in this process; time and peak memory.
Follows bench/memorization.py (the estimator's own benchmark): its settings, and a short warm-up
of both paths first so one-off imports are not timed."""
import argparse
import tempfile

import numpy as np
import torch

import datasets
from engine.checkpoint import build_args
from memorization.heldout import run_models
from .common import PeakRSS, timed

# the estimator benchmark's defaults (bench/memorization.py)
SETTINGS = {"seed": 0, "lr": 0.1, "batch_size": 32}


def estimator_args(**overrides):
    try:
        from memorization.heldout import estimator_args as library
        return library(**{**SETTINGS, **overrides})
    except ImportError:
        base = {"seed": 0, "epochs": 2, "lr": 0.1, "batch_size": 32, "momentum": 0.9, "weight_decay": 5e-4,
                "scheduler": "cosine", "decreasing_lr": [], "gamma_lr": 0.1, "warmup": 0,
                "subset_ratio": 0.7, "stack": "auto"}
        return argparse.Namespace(**{**base, **overrides})


def compare(data, arch, num_models, epochs, models_per_batch, stack):
    build = build_args(arch, data)
    args = estimator_args(epochs=epochs, stack=stack)
    warm = estimator_args(epochs=1, stack=stack)
    cpu = torch.device("cpu")
    for batched in (True, False):
        run_models([0, 1], data, build, warm, cpu, batched, 2, progress=False)
    ks = list(range(num_models))
    group = min(models_per_batch, num_models)
    out, records = {}, {}
    for name, batched in (("sequential", False), ("batched", True)):
        with PeakRSS() as mem:
            seconds, records[name] = timed(lambda: run_models(ks, data, build, args, cpu, batched,
                                                              group if batched else 1, progress=False))
        out[name] = {"seconds": round(seconds, 2), "models_per_s": round(num_models / seconds, 3),
                     **mem.record()}
    agree = float(np.mean(records["batched"]["train_correct"] == records["sequential"]["train_correct"]))
    return {"models": num_models, "epochs": epochs, "batch_size": args.batch_size, "stack": stack,
            "models_per_stack": group, **out,
            "ratio": round(out["sequential"]["seconds"] / out["batched"]["seconds"], 2),
            "memory_ratio": round(out["batched"]["peak_rss_mib"] / out["sequential"]["peak_rss_mib"], 2),
            "correctness_agreement": round(agree, 4)}


def run(num_models=16, epochs=2, models_per_batch=16, dataset="digits", archs=None, stack="auto"):
    """The data set's default arch first (its ratio is the headline), then any others."""
    bundle = datasets.load_bundle(dataset)
    with tempfile.TemporaryDirectory() as tmp:
        data = datasets.prepare_data(bundle, tmp, "cpu", create_split=True)
    archs = list(archs or [bundle.default_arch, "mlp"])
    per_arch = {arch: compare(data, arch, num_models, epochs, models_per_batch, stack) for arch in archs}
    head = per_arch[archs[0]]
    return {"dataset": dataset, "arch": archs[0], "threads": torch.get_num_threads(), "archs": per_arch,
            "models": num_models, "epochs": epochs, "ratio": head["ratio"], "memory_ratio": head["memory_ratio"],
            "batched": head["batched"], "sequential": head["sequential"], "target": 5.0}
