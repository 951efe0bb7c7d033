"""Data parallelism under `torchrun` (gloo on CPU, NCCL on CUDA); a no-op in a single process.

    torchrun --nproc_per_node 2 main_train.py ...      # or python -m torch.distributed.run ...

What it does, and why it gives the one-process model (up to floating-point summation order):

- every rank draws the same global batch (same seeds, same generators), then keeps its own
  contiguous 1/world of it (`take_shard`, called by `TensorSet.batches` for shuffled passes; a
  batch the world does not divide, usually the last of a pass, is trained whole by every rank);
  the augmentation draws are made for the whole global batch, so each row is augmented as in
  one process;
- `Trainer.step` calls `backward_and_reduce`: each rank back-propagates its loss / world, then
  ONE all-reduce sums the gradients, so every rank holds the gradient of the global-batch mean
  loss (also for losses over several batches) and takes the same optimizer step. This
  replaces DistributedDataParallel's wrapper: it works for every method without wrapping models,
  and gradient masks / weight decay are applied after the reduction exactly as in one process;
- only rank 0 writes files (`engine.io` asks `is_main`); every rank evaluates the same model.

BatchNorm: on CUDA the models get SyncBatchNorm (statistics of the global batch: the one-process
model). PyTorch's SyncBatchNorm does not run on CPU, so under gloo each rank normalises with its
shard's statistics (as plain DDP does) and the running statistics are averaged in the same
all-reduce, which keeps the ranks identical but is not bitwise the one-process model; the
equality test uses the BN-free `mlp`.

The memorization estimator does not use this module: under torchrun its ranks are independent
shards (memorization.seeds.resolve_shard). Data parallelism starts only when `init` is called.
"""
import atexit
import os

import torch
import torch.distributed as dist

from .errors import UserError

_state = {"active": False, "rank": 0, "world": 1, "local_rank": 0, "device": None}


def launch_env(env=None):
    """(rank, world_size, local_rank) when torchrun (or any launcher setting RANK/WORLD_SIZE) asks
    for more than one process, else None."""
    env = os.environ if env is None else env
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        text = env.get(name)
        if text is None or text == "":
            values[name] = None
            continue
        try:
            values[name] = int(text)
        except ValueError:
            raise UserError(f"environment variable {name}={text!r} is not an integer")
    world, rank = values["WORLD_SIZE"], values["RANK"]
    if world is None or world <= 1:
        return None
    if rank is None or not 0 <= rank < world:
        raise UserError(f"WORLD_SIZE={world} but RANK={env.get('RANK')!r}; launch with torchrun")
    local = values["LOCAL_RANK"] if values["LOCAL_RANK"] is not None else rank
    return rank, world, local


def init(device):
    """Join the process group when launched with several processes; returns the device this rank
    uses (cuda:LOCAL_RANK on CUDA). Idempotent; a single process gets `device` back unchanged."""
    if _state["active"]:
        return _state["device"]
    launched = launch_env()
    if launched is None:
        return device
    rank, world, local = launched
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world)
        atexit.register(shutdown)
    _state.update(active=True, rank=rank, world=world, local_rank=local, device=device)
    return device


def shutdown():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _state.update(active=False, rank=0, world=1, local_rank=0, device=None)


def active():
    return _state["active"]


def rank():
    return _state["rank"]


def world_size():
    return _state["world"]


def is_main():
    """True in a single process and on rank 0: the process that writes files and prints."""
    return _state["rank"] == 0


def barrier():
    if active():
        dist.barrier()


# ---- sharding of global batches --------------------------------------------------------------

def shard_bounds(n, rank, world):
    """Rows [start, stop) of an n-row global batch that `rank` trains on: equal contiguous shards
    when the world divides n, else the whole batch on every rank (typically only the last batch
    of a pass). So every rank's share of every batch is exactly 1/world, and a loss summing
    several batches (NG: retain and forget) is reduced exactly."""
    if world <= 1 or n % world:
        return 0, n
    size = n // world
    return rank * size, (rank + 1) * size


def take_shard(n):
    """This rank's rows of an n-row global batch."""
    if not active():
        return 0, n
    return shard_bounds(n, _state["rank"], _state["world"])


def _local_batchnorms(model):
    """BatchNorm layers in training mode that keep running statistics and are not synchronised."""
    if model is None:
        return []
    norms = (torch.nn.modules.batchnorm._BatchNorm,)
    return [m for m in model.modules() if isinstance(m, norms) and not isinstance(m, torch.nn.SyncBatchNorm)
            and m.training and m.running_mean is not None]


def backward_and_reduce(loss, params, model=None):
    """Backward of this rank's weighted loss, then one all-reduce of [gradients, BN running
    statistics, which parameters have a gradient, loss]. Returns the global-batch loss (the same
    on every rank, so a non-finite loss stops every rank at the same step)."""
    w = 1.0 / _state["world"]  # every rank holds 1/world of every global batch (shard_bounds)
    (loss * w).backward()
    params = list(params)
    grads = [p.grad for p in params]
    stats = [buf for m in _local_batchnorms(model) for buf in (m.running_mean, m.running_var)]
    parts = [(g if g is not None else torch.zeros_like(p)).reshape(-1).float() for g, p in zip(grads, params)]
    parts += [(b.float() * w).reshape(-1) for b in stats]
    device = params[0].device if params else loss.device
    parts.append(torch.tensor([float(g is not None) for g in grads], device=device))
    parts.append((loss.detach().float() * w).reshape(1).to(device))
    flat = torch.cat(parts)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    at = 0
    for p in params:
        size = p.numel()
        p.grad = flat[at:at + size].view_as(p).to(p.dtype).clone()
        at += size
    for b in stats:
        b.copy_(flat[at:at + b.numel()].view_as(b))
        at += b.numel()
    has_grad = flat[at:at + len(params)]
    for p, flag in zip(params, has_grad.tolist()):
        if flag == 0:
            p.grad = None
    return float(flat[-1])


# ---- agreement and merging -------------------------------------------------------------------

def all_true(flag):
    """True only if `flag` holds on every rank (so ranks take the same branch, e.g. a cache hit)."""
    if not active():
        return bool(flag)
    t = torch.tensor([0.0 if flag else 1.0], device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t) == 0.0


def merge_recorded(arrays):
    """Per-example arrays (NaN where a rank did not see the example) merged over the ranks: each
    entry becomes the mean of the values the ranks recorded (each example is in one shard)."""
    if not active():
        return arrays
    out = {}
    for name, a in arrays.items():
        seen = ~torch.isnan(a)
        both = torch.stack([torch.where(seen, a, torch.zeros_like(a)).float(), seen.float()])
        moved = both.to(_reduce_device())
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        total, count = moved.to(a.device)
        out[name] = torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))
    return out


def _reduce_device():
    return _state["device"] if _state["device"] is not None and _state["device"].type == "cuda" else "cpu"
