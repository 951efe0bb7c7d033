"""What every output records: the full config, the seed, versions and the data split."""
import platform
import sys
import time
from importlib.metadata import version

import numpy as np
import torch


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
            "sklearn": version("scikit-learn"), "platform": platform.platform(),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}


def run_record(args, split=None, **extra):
    return {"config": {k: v for k, v in vars(args).items()}, "seed": getattr(args, "seed", None),
            "versions": versions(), "split": split.describe() if split else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
