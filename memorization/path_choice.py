"""--path auto: train the heldout models batched or sequentially, whichever is faster here.

Which path wins depends on the architecture, the batch size, the group size and the device: a
stack of small MLPs trains several times faster than one model at a time even on a CPU, while a
stack of the digits cnn is slower there, its steps being compute-bound already (docs/performance.md).
So `auto` times both on the run's own data: the same group of --models_per_batch models for a few
SGD steps, as one stack and one after another (the real training code), and keeps the faster. The result is cached per machine and setting in
<save_dir>/memorization/path_calibration.json, so a rerun or a resumed run does not measure again.
"""
import socket
import time
from dataclasses import replace

import numpy as np
import torch

from engine.errors import UserError
from engine.io import read_json, write_json
from .common import out_dir
from .seeds import subset_size

# Too large to stack many copies on one device: trained one at a time, without calibration.
SEQUENTIAL_ARCHS = ("resnet18", "resnet50", "vgg16_bn")
PATHS = ("auto", "batched", "sequential")
CALIBRATION_STEPS = 3  # SGD steps of the timed epoch, per model and path
ROUNDS = 2  # timed rounds (best of): a busy machine slows single rounds down
SEQUENTIAL_MODELS = 2  # models the sequential path's rate is measured on
CACHE = "path_calibration.json"
# Calibrating costs about this many model-steps' time (two rounds of a stacked group's and two
# single models' short epochs); below this many model-steps in the whole estimate a wrong choice
# costs less than measuring, so small estimates take the batched path unmeasured.
WORTH_CALIBRATING = 2000


def cache_file(save_dir):
    return out_dir(save_dir) / CACHE


def cache_key(args, data, arch, device):
    """Everything the comparison depends on, this machine included."""
    shape = "x".join(map(str, data.train.x.shape[1:]))
    group = min(args.models_per_batch, args.num_models)
    return " ".join([arch, shape, f"batch={args.batch_size}", f"models_per_batch={group}",
                     f"stack={args.stack}", f"recipe={args.recipe}", f"compile={args.compile}",
                     f"device={device}", f"threads={torch.get_num_threads()}", f"host={socket.gethostname()}"])


def read_cache(path):
    try:
        cache = read_json(path, "path calibration cache")
    except UserError:  # missing or damaged: it is only a cache, measured again
        return {}
    return cache if isinstance(cache, dict) else {}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def calibrate(args, data, device, build, train):
    """{path: seconds per model per SGD step}: a group of --models_per_batch models trained two
    short epochs as one stack, and two of them one after another, best of ROUNDS. Only the second epoch is timed: building
    the models and the first steps (one-off imports, allocator growth) weigh on a few steps as they
    do not on a whole run. train: memorization.heldout.train_group."""
    group = min(args.models_per_batch, args.num_models)
    batch = min(args.batch_size, len(data.train))
    positions = np.arange(min(len(data.train), CALIBRATION_STEPS * batch))
    steps = -(-len(positions) // batch)
    two = replace(args, epochs=2, warmup=0)
    models = list(range(group))
    subsets = {k: positions for k in models}

    def second_epoch(ks, batched):
        ends = []

        def epoch_end(n_models):
            synchronize(device)
            ends.append(time.perf_counter())

        train(ks, subsets, data, build, two, device, batched, group if batched else 1, epoch_end)
        return ends[1] - ends[0]

    def seconds(batched):
        if batched:
            return second_epoch(models, True) / (steps * group)
        # one model's step costs the same however many follow it: two models give the rate
        return sum(second_epoch([k], False) for k in models[:SEQUENTIAL_MODELS]) / (steps * min(group, SEQUENTIAL_MODELS))

    best = {"batched": float("inf"), "sequential": float("inf")}
    for _ in range(ROUNDS):  # interleaved, so a change of the machine's load hits both paths alike
        for path in best:
            best[path] = min(best[path], seconds(path == "batched"))
    return best


def choose_path(args, data, arch, device, build, train):
    """{"path": "batched" | "sequential", "chosen_by": why, and the timings when measured}."""
    if args.path not in PATHS:
        raise UserError(f"--path must be one of {', '.join(PATHS)}, got {args.path!r}")
    if arch in SEQUENTIAL_ARCHS:
        return {"path": "sequential", "chosen_by": f"architecture ({arch} is always sequential)"}
    if args.path != "auto":
        return {"path": args.path, "chosen_by": "--path"}
    model_steps = args.num_models * args.epochs * -(-subset_size(len(data.train), args.subset_ratio) // args.batch_size)
    if model_steps < WORTH_CALIBRATING:
        return {"path": "batched", "chosen_by": f"size ({model_steps} model-steps: cheaper than calibrating)"}
    key = cache_key(args, data, arch, device)
    cache = read_cache(cache_file(args.save_dir))
    if key in cache:
        return {**cache[key], "chosen_by": "calibration cache", "key": key}
    start = time.perf_counter()
    timings = calibrate(args, data, device, build, train)
    entry = {"path": min(timings, key=timings.get), "seconds_per_model_step": timings,
             "calibration_s": round(time.perf_counter() - start, 3),
             "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(cache_file(args.save_dir), {**cache, key: entry})
    return {**entry, "chosen_by": "calibration", "key": key}
