"""Benchmark: the heldout estimator's batched path (several models trained as one stacked module)
against its sequential path (one model at a time), training the same models (same subsets,
initial weights, batch order) for the same epochs in one process. Prints models/second for each
and the ratio batched / sequential. Not a test.

    python -m bench.memorization                              # digits; cnn, mlp, tinymlp; wide and vmap stacks
    python -m bench.memorization --arch cnn --stack wide --models 32 --epochs 2
    python -m bench.memorization --threads 1                  # one core (robust on a busy machine)
"""
import argparse
import tempfile
import time
from dataclasses import replace

import torch

import datasets
from models import build_args
from memorization.heldout import estimator_args, run_models


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--synth_n", type=int, default=1000)
    p.add_argument("--arch", default="cnn,mlp,tinymlp", help="comma list")
    p.add_argument("--stack", default="wide,vmap", help="comma list of batched implementations")
    p.add_argument("--models", type=int, default=16)
    p.add_argument("--models_per_batch", type=int, default=16)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def timed(ks, data, build, args, batched, group):
    start = time.perf_counter()
    rec = run_models(ks, data, build, args, torch.device("cpu"), batched, group, progress=False)
    return time.perf_counter() - start, rec


def main():
    a = parse()
    if a.threads:
        torch.set_num_threads(a.threads)
    options = {"synth_n": a.synth_n} if a.dataset == "synthetic" else {}
    bundle = datasets.load_bundle(a.dataset, **options)
    with tempfile.TemporaryDirectory() as tmp:
        data = datasets.prepare_data(bundle, tmp, "cpu", create_split=True)
    ks, group = list(range(a.models)), min(a.models_per_batch, a.models)
    print(f"{a.dataset} (|D|={len(data.train)}, subsets of 70%), {a.models} models x {a.epochs} epochs, "
          f"batch {a.batch_size}, {torch.get_num_threads()} threads, {group} models per stack")
    print(f"{'arch':>5} {'path':>16} {'seconds':>8} {'models/s':>9} {'batched/sequential':>19}")
    for arch in a.arch.split(","):
        build = build_args(arch, data)
        args = estimator_args(seed=a.seed, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size)
        # warm-up: the first optimizer step imports torch._dynamo (~2 s), which must not be timed
        warm = replace(args, epochs=1)
        for batched in (True, False):
            run_models(ks[:2], data, build, warm, torch.device("cpu"), batched, 2, progress=False)
        seq_time, seq = timed(ks, data, build, args, False, 1)
        print(f"{arch:>5} {'sequential':>16} {seq_time:8.2f} {a.models / seq_time:9.2f}")
        for stack in a.stack.split(","):
            t, rec = timed(ks, data, build, replace(args, stack=stack), True, group)
            agree = (rec["train_correct"] == seq["train_correct"]).mean()
            print(f"{arch:>5} {'batched/' + stack:>16} {t:8.2f} {a.models / t:9.2f} {seq_time / t:18.2f}x"
                  f"   (correctness agrees with sequential on {100 * agree:.2f}% of D)")


if __name__ == "__main__":
    main()
