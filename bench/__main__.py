"""python -m bench [--quick] [--only a,b] [--skip a,b]: every benchmark side by side in this process;
prints a table of ratios and writes bench/results/bench.json.

Ratios, not times: on a shared machine absolute times are noise, but two things measured in the
same process a moment apart see the same machine. Benchmarks: data (our batched data path vs
torchvision's), ensemble (batched vs sequential memorization models), hardware (training-step
FLOP/s vs peak matmul FLOP/s), methods (each unlearning method and RUM vs the retrain reference,
with peak memory), memorization_quality (seconds until the memorization estimate is good enough:
a RUM-style estimator vs our defaults), sweep_runner (a sweep's runs on workers that import torch
once, scripts/batch.py, vs one new interpreter a run), demo (`make demo` end to end by phase; skipped with --quick).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from . import common

OUT = Path(__file__).resolve().parent / "results" / "bench.json"
NAMES = ("data", "ensemble", "hardware", "methods", "memorization_quality", "sweep_runner", "demo")

SIZES = {  # --quick: well under a minute on two idle cores; default: a few minutes
    "quick": {"data": {"n_images": 2000, "repeats": 1, "workers": (0,)},
              "ensemble": {"sizes": [("cnn", 8, 1, 8), ("tinymlp", 32, 2, 32)]},
              "hardware": {"matmul_n": (512, 1024), "steps": 2, "repeats": 5},
              "methods": {"original_epochs": 3, "forget_n": 60, "method_epochs": 1, "rum_n": 20},
              "memorization_quality": {"datasets_": ("synthetic",), "budget_s": 30, "max_models": 8},
              "sweep_runner": {"methods": ("GA", "NG"), "original_epochs": 2}},
    "default": {"data": {"n_images": 10000, "repeats": 3, "workers": (0, 2)},
                # (arch, models, epochs, models per stack); tinymlp: 6 epochs, 64 per stack
                "ensemble": {"sizes": [("cnn", 16, 2, 16), ("mlp", 16, 2, 16), ("tinymlp", 64, 6, 64)]},
                "hardware": {"matmul_n": (512, 1024, 2048), "steps": 5, "repeats": 10},
                "methods": {"original_epochs": 30, "forget_n": 120, "method_epochs": None, "rum_n": 30},
                "memorization_quality": {"datasets_": ("synthetic", "digits"), "budget_s": 600},
                "sweep_runner": {}, "demo": {}},
}


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (< 1 min on two idle cores), no demo")
    p.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(NAMES)}")
    p.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--compare_threads", action="store_true",
                   help="also run `make demo` with one OpenMP thread per core (slow on a busy machine)")
    p.add_argument("--out", type=Path, default=OUT, help="JSON file of the results")
    a = p.parse_args(argv)
    chosen = [n.strip() for n in a.only.split(",")] if a.only else list(NAMES)
    skip = {n.strip() for n in a.skip.split(",") if n.strip()}
    unknown = (set(chosen) | skip) - set(NAMES)
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")
    a.names = [n for n in chosen if n not in skip]
    return a


def run_one(name, size):
    if name == "data":
        from .data_path import run
    elif name == "ensemble":
        from .ensemble import run
    elif name == "hardware":
        from .hardware import run
    elif name == "methods":
        from .methods import run
    elif name == "memorization_quality":
        from .memorization_quality import run
    elif name == "sweep_runner":
        from .sweep_runner import run
    else:
        from .demo import run
    return run(**size)


def rows(results):
    """(benchmark, what, ratio, target) lines of the table."""
    out = []
    d = results.get("data")
    if d and "ratio" in d:
        for k, v in d["ratio_vs"].items():
            out.append(("data path", f"ours / {k} images/s ({d['images_per_s']['ours']:.0f} vs "
                                     f"{d['images_per_s'][k]:.0f})", v, ">= 5"))
    e = results.get("ensemble")
    if e and "ratio" in e:
        for arch, a in e["archs"].items():
            out.append(("memorization ensemble", f"sequential / batched time ({a['models']} {arch} models "
                                                 f"x {a['epochs']} ep)", a["ratio"], ">= 5"))
            out.append(("memorization ensemble", f"{arch} peak RSS batched / sequential "
                                                 f"({a['batched']['peak_rss_mib']:.0f} vs "
                                                 f"{a['sequential']['peak_rss_mib']:.0f} MiB)", a["memory_ratio"], ""))
    h = results.get("hardware")
    if h and "models" in h:
        for k, v in h["models"].items():
            out.append(("hardware use", f"{k}: train-step FLOP/s / peak matmul "
                                        f"({v['gflop_per_s']} / {h['peak_matmul_gflop_per_s']} GFLOP/s)",
                        v["ratio"], ""))
            out.append(("hardware use", f"{k}: train-step FLOP/s / best dense kernel "
                                        f"({v['gflop_per_s']} / {h['best_kernel_gflop_per_s']} GFLOP/s)",
                        v["ratio_best_kernel"], ""))
    m = results.get("methods")
    if m and "methods" in m:
        for k, v in m["methods"].items():
            if "ratio" in v:
                out.append(("unlearning / retrain", f"{k} (peak RSS {v['peak_rss_mib']:.0f} MiB)", v["ratio"], ""))
            else:
                out.append(("unlearning / retrain", f"{k}: {v.get('error')}", float("nan"), ""))
        r = m.get("rum", {})
        if "ratio" in r:
            out.append(("unlearning / retrain", f"{r['method']} on {r['forget_set']} (peak RSS "
                                                f"{r['peak_rss_mib']:.0f} MiB)", r["ratio"], ""))
    q = results.get("memorization_quality")
    if q and "datasets" in q:
        for d, r in q["datasets"].items():
            if "ratio" in r:
                out.append(("memorization quality", f"{d}: seconds to {r['measure']} {r['target']}, RUM-style / "
                                                    f"ours{' (lower bound)' if r['ratio_is_lower_bound'] else ''}",
                            r["ratio"], ">= 20"))
    s = results.get("sweep_runner")
    if s and "ratio" in s:
        out.append(("sweep runner", f"{s['runs']} digits runs, {s['jobs']} at a time: a process a run / "
                                    f"scripts/batch.py ({s['seconds']['process_a_run']:.0f}s vs "
                                    f"{s['seconds']['batch']:.0f}s, same metrics: {s['same_metrics']})",
                    s["ratio"], ""))
    dm = results.get("demo")
    if dm and "ratio" in dm:
        out.append(("make demo", f"end to end {dm['seconds']:.0f}s / {dm['target_s']:.0f}s target "
                                 f"(exit {dm['exit_code']})", dm["ratio"], "<= 1"))
        for ph in dm["phases"]:
            out.append(("  demo phase", ph["phase"][:70], ph["fraction"], "share"))
        other = dm.get("all_cores")
        if other:
            out.append(("make demo", f"{other['command'].split()[0]}: {other['seconds']:.0f}s / "
                                     f"{dm['target_s']:.0f}s target (exit {other['exit_code']})", other["ratio"], ""))
            out.append(("make demo", "one thread per core / one thread per process (the Makefile's)",
                        dm["all_cores_over_default"], ""))
    return out


def print_table(lines):
    width = max((len(w) for _, w, _, _ in lines), default=10)
    print(f"{'benchmark':<22} {'measure':<{width}} {'ratio':>8} {'target':>7}")
    for bench, what, ratio, target in lines:
        print(f"{bench:<22} {what:<{width}} {ratio:>8.3g} {target:>7}")


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    mode = "quick" if a.quick else "default"
    given = sys.argv[1:] if argv is None else list(argv)
    record = {"command": " ".join(["python -m bench", *given]),
              "mode": mode, "machine": common.machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "results": {}, "seconds": {}}
    for name in a.names:
        size = SIZES[mode].get(name)
        if size is None:
            print(f"[{name}] skipped in --quick mode", flush=True)
            continue
        if name == "demo":
            size = {**size, "all_cores_too": a.compare_threads}
        print(f"[{name}] running ...", flush=True)
        start = time.perf_counter()
        try:
            record["results"][name] = run_one(name, size)
        except Exception as e:  # report and go on: one broken benchmark must not hide the rest
            record["results"][name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"[{name}] failed: {type(e).__name__}: {e}", flush=True)
        record["seconds"][name] = round(time.perf_counter() - start, 1)
    record["total_seconds"] = round(sum(record["seconds"].values()), 1)
    print()
    print_table(rows(record["results"]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\n{record['total_seconds']:.0f}s in all ({mode}); -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
