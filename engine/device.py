"""Device choice and the CUDA fast paths, guarded so CPU runs never touch them.

`fast_path_plan` says which switches a run uses; on CUDA all of them are on by default:
data resident on the device (datasets.prepare_data moves it once), bf16 autocast in training
and evaluation, channels_last weights for conv nets, pinned + non-blocking host->device copies,
SyncBatchNorm under data parallelism, and torch.compile when asked for (--compile).
"""
import contextlib
import functools
import os

import torch
from torch import nn

from . import distributed
from .errors import UserError

COMPILE_ON_CPU = ("--compile is a CUDA fast path and is refused on CPU: for these models the "
                  "compile takes ~40 s and saves ~10% a step on this kind of machine; drop --compile")


def use_threads(threads=None):
    """Intra-op CPU threads of this process: `threads` when given, else OMP_NUM_THREADS when set,
    else 1. The models here are small and runs go side by side (sweeps, shards): on 2 shared cores
    a second thread per process made runs 5-7x slower (docs/performance.md)."""
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(max(1, threads or 1))


def select(cfg):
    """The run's device (resolve_device) with its thread count applied (use_threads)."""
    use_threads(cfg.threads)
    return resolve_device(cfg.device)


def resolve_device(name="auto"):
    """auto: CUDA when present, else CPU. Under torchrun (LOCAL_RANK set), `auto` and `cuda` mean
    this process's own GPU, cuda:LOCAL_RANK, so ranks (or estimator shards) never share GPU 0."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and torch.cuda.is_available() and os.environ.get("LOCAL_RANK", "").isdigit():
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but CUDA is not available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device; use auto, cpu or cuda[:N]")


@functools.lru_cache(maxsize=None)
def _cuda_bf16():
    try:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except (RuntimeError, AssertionError):
        return False


def _is_cuda(device):
    return getattr(device, "type", str(device).split(":")[0]) == "cuda"


def _has(model, kinds):
    return model is not None and any(isinstance(m, kinds) for m in model.modules())


def fast_path_plan(device, compile=False, model=None, bf16=None):
    """{switch: on?} for a run on `device` (anything with a `.type`, so tests can pass a stand-in
    for a CUDA device). `compile` asks for torch.compile; on CPU it is refused (UserError).
    `model` narrows channels_last to conv nets and SyncBatchNorm to nets with BatchNorm;
    `bf16` overrides the check that the GPU supports bfloat16."""
    cuda = _is_cuda(device)
    compile_ = bool(compile)
    if compile_ and not cuda:
        raise UserError(COMPILE_ON_CPU)
    bf16 = _cuda_bf16() if bf16 is None and cuda else bool(bf16)
    return {"data_on_device": True,
            "bf16_autocast": cuda and bf16,
            # on a CPU too: the digits cnn trains 1.3-1.5x faster (docs/performance.md)
            "channels_last": model is None or _has(model, nn.Conv2d),
            "pinned_non_blocking": cuda,
            "sync_batchnorm": cuda and distributed.active() and (model is None or _has(model, nn.modules.batchnorm._BatchNorm)),
            "compile": compile_ and cuda}


def autocast(device):
    """bf16 autocast on CUDA (when the GPU has bf16); a no-op elsewhere (bf16 on CPU is slower
    and changes numerics)."""
    if _is_cuda(device) and _cuda_bf16():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(t, device):
    """Host->device copy that does not stall the host on CUDA (pinned + non_blocking); on CPU
    the tensor itself (no copy)."""
    device = torch.device(device)
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def prepare_model(model, device, compile=False):
    """Move to the device and apply the fast paths of `fast_path_plan` (on CPU: channels_last)."""
    plan = fast_path_plan(device, compile, model)
    model = model.to(device)
    if plan["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if plan["sync_batchnorm"]:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if plan["compile"]:
        model.compile()  # in place: state_dict keys stay the same; deepcopies are uncompiled
    return model
