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
