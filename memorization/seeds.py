"""Everything random about heldout model k comes from (seed, k) alone.

The subset S_k, the initial weights and the batch order are each drawn from their own stream
of a SeedSequence keyed by (seed, k). So which process trains model k, and which other models
share its batch, cannot change what model k sees: sharded and unsharded runs agree exactly.
"""
import os

import numpy as np
import torch

from engine.errors import UserError
from engine.seed import seeded_init

SUBSET, INIT, ORDER = 0, 1, 2  # independent streams of one model


def stream_seed(seed, k, stream):
    """A 63-bit integer seed for (run seed, model k, stream)."""
    state = np.random.SeedSequence([int(seed) % 2**63, int(k), int(stream)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def subset_size(n, ratio):
    return int(round(ratio * n))


def check_subset_ratio(n, ratio):
    size = subset_size(n, ratio)
    if not 0 < ratio < 1 or size < 1 or size >= n:
        raise UserError(f"--subset_ratio {ratio} leaves {size} of {n} training examples in each "
                        "subset; it must keep at least one example in and one out (0 < ratio < 1)")
    return size


def draw_subset(n, ratio, seed, k):
    """Sorted positions (in D) of the random subset S_k: round(ratio * n) without replacement."""
    rng = np.random.default_rng(stream_seed(seed, k, SUBSET))
    return np.sort(rng.choice(n, subset_size(n, ratio), replace=False)).astype(np.int64)


def order_generator(seed, k):
    """CPU generator of model k's batch order (one permutation per epoch)."""
    return torch.Generator().manual_seed(stream_seed(seed, k, ORDER))


def init_model(build_fn, seed, k):
    """Model k's initial weights depend on (seed, k) only, and leave the global RNG untouched."""
    return seeded_init(build_fn, stream_seed(seed, k, INIT))


def shard_models(num_models, shard, num_shards):
    """Shard i trains the models k = i, i + n, i + 2n, ... (k < num_models)."""
    return list(range(shard, num_models, num_shards))


def _env_int(env, name):
    value = env.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {name}={value!r} is not an integer")


def resolve_shard(shard, num_shards, env=None):
    """(shard, num_shards, source) from the flags, else SLURM array variables, else torchrun's
    RANK/WORLD_SIZE; (0, 1, None) when nothing says the run is sharded."""
    env = os.environ if env is None else env
    if shard is not None or num_shards is not None:
        if shard is None or num_shards is None:
            raise UserError("give --shard and --num_shards together")
        source = "flags"
    elif _env_int(env, "SLURM_ARRAY_TASK_COUNT") is not None and _env_int(env, "SLURM_ARRAY_TASK_ID") is not None:
        # array ids may start anywhere (--array=1-8): count from SLURM_ARRAY_TASK_MIN
        shard = _env_int(env, "SLURM_ARRAY_TASK_ID") - (_env_int(env, "SLURM_ARRAY_TASK_MIN") or 0)
        num_shards, source = _env_int(env, "SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_ID/COUNT"
    elif _env_int(env, "WORLD_SIZE") is not None and _env_int(env, "RANK") is not None:
        shard, num_shards, source = _env_int(env, "RANK"), _env_int(env, "WORLD_SIZE"), "RANK/WORLD_SIZE"
    else:
        return 0, 1, None
    if num_shards < 1:
        raise UserError(f"number of shards must be positive, got {num_shards} (from {source})")
    if not 0 <= shard < num_shards:
        raise UserError(f"shard {shard} is outside 0..{num_shards - 1} (from {source})")
    return shard, num_shards, source
