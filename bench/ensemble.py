"""Memorization ensemble: the heldout estimator's batched path (models stacked and trained at once)
against one model at a time, the same models and epochs, in this process; time and peak memory.
Per architecture: the digits default (cnn), the mlp, and the prototype's small MLPs (tinymlp),
where one model at a time is bound by per-step overhead and stacking pays even on a CPU.
Follows bench/memorization.py (the estimator's own benchmark): its settings, and a short warm-up
of both paths first so one-off imports are not timed."""
import tempfile

import numpy as np
import torch

import datasets
from models import build_args
from memorization.heldout import estimator_args as library_estimator_args, run_models
from .common import PeakRSS, timed

# the estimator benchmark's defaults (bench/memorization.py)
SETTINGS = {"seed": 0, "lr": 0.1, "batch_size": 32}


def estimator_args(**overrides):
    return library_estimator_args(**{**SETTINGS, **overrides})


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


def run(sizes, dataset="digits", stack="auto"):
    """sizes: [(arch, num_models, epochs, models_per_batch)], measured in that order. The data
    set's default arch comes first: its ratio is the headline."""
    bundle = datasets.load_bundle(dataset)
    with tempfile.TemporaryDirectory() as tmp:
        data = datasets.prepare_data(bundle, tmp, "cpu", create_split=True)
    per_arch = {arch: compare(data, arch, num_models, epochs, per_batch, stack)
                for arch, num_models, epochs, per_batch in sizes}
    head = per_arch[sizes[0][0]]
    return {"dataset": dataset, "arch": sizes[0][0], "threads": torch.get_num_threads(), "archs": per_arch,
            "models": head["models"], "epochs": head["epochs"], "ratio": head["ratio"],
            "memory_ratio": head["memory_ratio"], "batched": head["batched"],
            "sequential": head["sequential"], "target": 5.0}
