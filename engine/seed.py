import random

import numpy as np
import torch


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def generator(seed, offset=0):
    """A private CPU generator: shuffles and draws do not depend on what ran before."""
    g = torch.Generator()
    g.manual_seed(int(seed) * 1000003 + offset)
    return g


def seeded_init(build, seed):
    """`build()` under `torch.manual_seed(seed)`, leaving the global RNG stream as it was: a
    model's initial weights depend on `seed` only, wherever in a run it is built."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()
