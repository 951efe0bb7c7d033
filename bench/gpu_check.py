"""GPU check of the memorization estimator: python -m bench.gpu_check [--out FILE] (bench/gpu_check.sh).

On a CUDA machine, in a few minutes: the fast paths the run takes (engine.device.fast_path_plan);
a 400-model fastnet heldout ensemble (--recipe fast) on synthetic CIFAR-shaped data, trained by
the estimator's own code, batched and then sequential: models/s, the device time of the run
(CUDA events) against its wall time, and the GPU's busy fraction (kernel time from torch.profiler
over one group of models, divided by that group's wall time); and the 400-model CIFAR-10 estimate
of the README's fastnet recipe (10 epochs over 35,000-image subsets) projected in GPU-hours from the
faster path's measured rate of model-images per second (evaluation passes included: a slight
overestimate). Writes everything to one JSON file.

Without a GPU it records the plan and the machine, notes in one line that the GPU parts were
skipped, and writes the JSON: a few seconds, so the tests run it.
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

import datasets
import models
from engine.device import fast_path_plan
from engine.io import write_json
from memorization.heldout import estimator_args, run_models
from models import build_args
from .common import machine

OUT = Path(__file__).resolve().parent / "results" / "gpu_check.json"
CIFAR10 = {"models": 400, "epochs": 10, "subset_images": 35_000}  # the README's fastnet estimate
PROFILED_SEQUENTIAL_MODELS = 4  # the sequential path's profiled window: its groups are single models


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT, help="JSON file of the results")
    p.add_argument("--models", type=int, default=400, help="models of the measured ensemble")
    p.add_argument("--models_per_batch", type=int, default=16, help="models per stack of the batched path")
    p.add_argument("--epochs", type=int, default=2, help="epochs per model of the measured ensemble")
    p.add_argument("--synth_n", type=int, default=2000, help="synthetic 3x32x32 images (70%% per model)")
    p.add_argument("--batch_size", type=int, default=512, help="the README's fastnet recipe")
    p.add_argument("--lr", type=float, default=0.2, help="the README's fastnet recipe")
    return p.parse_args(argv)


def synthetic_cifar(n, device):
    bundle = datasets.load_bundle("synthetic", synth_n=n, synth_shape="3x32x32")
    with tempfile.TemporaryDirectory() as tmp:
        return datasets.prepare_data(bundle, tmp, device, create_split=True)


def kernel_seconds(prof):
    return sum(e.time_range.elapsed_us() for e in prof.events() if e.device_type == DeviceType.CUDA) / 1e6


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_models(ks, data, build, args, device, batched, group):
    """(wall seconds, device seconds between two CUDA events, or None on a CPU) of training and
    evaluating the models ks."""
    events = [torch.cuda.Event(enable_timing=True) for _ in range(2)] if device.type == "cuda" else []
    synchronize(device)
    start = time.perf_counter()
    for event in events[:1]:
        event.record()
    run_models(ks, data, build, args, device, batched, group, progress=False)
    for event in events[1:]:
        event.record()
    synchronize(device)
    return time.perf_counter() - start, events[0].elapsed_time(events[1]) / 1e3 if events else None


def ensemble(data, a, device, batched):
    """One path's figures for the --models ensemble (after an untimed warm-up group). Runs on a CPU
    too (the tests), without the device figures."""
    args = estimator_args(epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, recipe="fast")
    build = build_args("fastnet", data)
    group = min(a.models_per_batch, a.models) if batched else 1
    window = list(range(group if batched else min(PROFILED_SEQUENTIAL_MODELS, a.models)))
    run_models(window, data, build, args, device, batched, group, progress=False)  # cuDNN autotuning, imports
    wall, device_s = time_models(list(range(a.models)), data, build, args, device, batched, group)
    out = {"models": a.models, "models_per_stack": group, "epochs": a.epochs, "seconds": round(wall, 2),
           "models_per_s": round(a.models / wall, 3),
           "model_images_per_s": a.models * a.epochs * round(0.7 * len(data.train)) / wall}
    if device_s is not None:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            window_wall, _ = time_models(window, data, build, args, device, batched, group)
        out.update(device_seconds_cuda_events=round(device_s, 2), device_over_wall=round(device_s / wall, 3),
                   gpu_busy_fraction=round(kernel_seconds(prof) / window_wall, 3))
    return out


def projected_gpu_hours(model_images_per_s):
    return CIFAR10["models"] * CIFAR10["epochs"] * CIFAR10["subset_images"] / model_images_per_s / 3600


def check(a):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = models.build_model("fastnet", 10, (3, 32, 32), [0.5] * 3, [0.25] * 3)
    result = {"command": "python -m bench.gpu_check", "settings": vars(a) | {"out": str(a.out)},
              "machine": machine(), "fast_path_plan": fast_path_plan(device, model=net)}
    print(f"fast paths on {device}: " + ", ".join(f"{k}={'on' if v else 'off'}"
                                                 for k, v in result["fast_path_plan"].items()))
    if device.type != "cuda":
        result["skipped"] = "no CUDA GPU: ensemble throughput, GPU utilisation and the projection skipped"
        print(result["skipped"])
        return result
    data = synthetic_cifar(a.synth_n, device)
    result["ensemble"] = {}
    for path in ("batched", "sequential"):
        r = result["ensemble"][path] = ensemble(data, a, device, path == "batched")
        print(f"{path:>10}: {r['models']} fastnet models x {r['epochs']} epochs in {r['seconds']:.1f}s = "
              f"{r['models_per_s']:.2f} models/s; device/wall {r['device_over_wall']:.2f}, "
              f"GPU busy {100 * r['gpu_busy_fraction']:.0f}%", flush=True)
    best = max(result["ensemble"], key=lambda p: result["ensemble"][p]["model_images_per_s"])
    hours = projected_gpu_hours(result["ensemble"][best]["model_images_per_s"])
    result["projection"] = {**CIFAR10, "path": best, "gpu_hours": round(hours, 3),
                            "batched_over_sequential": round(result["ensemble"]["batched"]["models_per_s"]
                                                             / result["ensemble"]["sequential"]["models_per_s"], 2)}
    print(f"projected 400-model CIFAR-10 estimate ({best}): {hours:.2f} GPU-hours on {result['machine']['cuda']}")
    return result


def main(argv=None):
    a = parse(argv)
    start = time.perf_counter()
    result = check(a)
    result["total_seconds"] = round(time.perf_counter() - start, 1)
    write_json(a.out, result)
    print(f"-> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
