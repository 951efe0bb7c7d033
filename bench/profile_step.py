"""python -m bench.profile_step [--top 12] [--repeats 15] [--compare]: one training step of the
digits cnn (batch 128), of the heldout estimator's stacked ensemble of cnns ('wide' stack, 16
models, batch 32) and of fastnet (3x32x32, --recipe fast, batch 64), each built and stepped the
way the toolkit does it (models.build_model, memorization.stack.make_stack,
engine.device.prepare_model, engine.train.Trainer), on CPU, one thread.

Prints for each: the top ops by self CPU time (torch.profiler), FLOPs per step, FLOP/s and the
fraction of the best dense kernel measured in the same run (bench/hardware.py: the best of sgemm
and a 3x3 convolution). --compare also times the candidate changes side by side (bench/common.py
side_by_side: round-robin, medians) and prints after/before time ratios (below 1: faster)."""
import argparse
import json

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from . import hardware
from .common import machine, side_by_side

# name: (arch, input shape, batch, recipe, models in the stack or None)
CONFIGS = {"cnn": ("cnn", (1, 8, 8), 128, "default", None),
           "stack": ("cnn", (1, 8, 8), 32, "default", 16),
           "fastnet": ("fastnet", (3, 32, 32), 64, "fast", None)}


def make_step(name, batch_scale=1, **changes):
    """hardware.make_step of configuration `name`, its batch times `batch_scale`, with `changes`."""
    arch, shape, batch, recipe_name, stack = CONFIGS[name]
    return hardware.make_step(arch, shape, batch * batch_scale, recipe_name, stack, **changes)


def flops_of(name):
    return hardware.step_flops(*CONFIGS[name])


def top_ops(step, top, steps=5):
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


def dense_kernels(n=1024, channels=256, size=32, batch=4):
    """{name: (closure, FLOPs)}: the two dense kernels of bench/hardware.py (peak_matmul, peak_conv)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    x, w = torch.randn(batch, channels, size, size), torch.randn(channels, channels, 3, 3)
    return {"sgemm": (lambda: torch.mm(a, b), 2 * n ** 3),
            "conv3x3": (lambda: F.conv2d(x, w, padding=1), 2 * batch * channels ** 2 * 9 * size ** 2)}


def fraction(names, repeats):
    """{name: FLOP/s ÷ best dense kernel}. The steps and the two kernels run round-robin in one
    side_by_side, so each rate is a median under the same load as the others."""
    kernels = dense_kernels()
    flops = {n: flops_of(n) for n in names} | {k: f for k, (_, f) in kernels.items()}
    steps = {n: make_step(n) for n in names} | {k: fn for k, (fn, _) in kernels.items()}
    for fn in steps.values():  # warm-up
        fn()
    rate = {n: flops[n] / s for n, s in side_by_side(steps, repeats).items()}
    peak = max(rate[k] for k in kernels)
    out = {n: {"gflop_per_step": round(flops[n] / 1e9, 4), "gflop_per_s": round(rate[n] / 1e9, 1),
               "fraction_best_kernel": round(rate[n] / peak, 3)} for n in names}
    return out | {k + "_gflop_per_s": round(rate[k] / 1e9, 1) for k in kernels}


# candidate changes: {label: (before kwargs, after kwargs)} of make_step; the ratio is time per
# example, after / before (the batch candidate does twice the work per step)
CANDIDATES = {"channels_last (off -> on)": ({"channels_last": False}, {}),
              "SGD foreach (off -> on)": ({"optimizer": {"foreach": False}}, {"optimizer": {"foreach": True}}),
              "SGD fused (off -> on)": ({"optimizer": {"foreach": False}}, {"optimizer": {"fused": True}}),
              "non-finite loss watch (on -> off)": ({}, {"watch": False}),
              "batch x2": ({}, {"batch_scale": 2})}


def compare(names, repeats, rounds=3, only=None):
    """{model: {candidate: [after/before time-per-example ratio per round]}}; each round rebuilds
    both steps (warmed up once) and times them side by side."""
    out = {}
    for n in names:
        for label, (before, after) in CANDIDATES.items():
            if only and not any(o in label for o in only):
                continue
            ratios = []
            for _ in range(rounds):
                steps = {"before": make_step(n, **before), "after": make_step(n, **after)}
                for fn in steps.values():
                    fn()
                s = side_by_side(steps, repeats)
                ratios.append(round(s["after"] / s["before"] / after.get("batch_scale", 1), 3))
            out.setdefault(n, {})[label] = ratios
            print(n, label, ratios, flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.profile_step", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(CONFIGS), help=f"comma-separated subset of {','.join(CONFIGS)}")
    p.add_argument("--top", type=int, default=12, help="ops listed per profile (0: no profile)")
    p.add_argument("--repeats", type=int, default=15, help="timed steps per candidate (medians)")
    p.add_argument("--compare", action="store_true", help="time the candidate changes side by side")
    p.add_argument("--candidates", default=None, help="with --compare: comma-separated parts of candidate labels")
    p.add_argument("--rounds", type=int, default=3, help="with --compare: rounds per candidate")
    p.add_argument("--no_fraction", action="store_true", help="skip the fraction of the best kernel")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    names = [n.strip() for n in a.only.split(",")]
    print(json.dumps({k: machine()[k] for k in ("cpu", "torch_threads", "torch", "load_average_at_start")}))
    if a.top:
        for n in names:
            print(f"\n== {n}: {CONFIGS[n]} (top {a.top} ops by self CPU time, 5 steps)")
            print(top_ops(make_step(n), a.top))
    if not a.no_fraction:
        print(json.dumps(fraction(names, a.repeats), indent=1))
    if a.compare:
        only = [c.strip() for c in a.candidates.split(",")] if a.candidates else None
        print(json.dumps(compare(names, a.repeats, a.rounds, only), indent=1))


if __name__ == "__main__":
    main()
