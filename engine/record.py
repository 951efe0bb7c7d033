"""What every output records: the full config, the seed, versions and the data split."""
import platform
import sys
import time
from importlib.metadata import version

import numpy as np
import torch

from .config import record


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
            "sklearn": version("scikit-learn"), "platform": platform.platform(),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}


def run_record(config, split=None, **extra):
    """The header of every output file: the config (a frozen config, or its recorded dict), its
    seed, versions, the data split and when it was made."""
    config = config if isinstance(config, dict) else record(config)
    return {"config": config, "seed": config.get("seed"),
            "versions": versions(), "split": split.describe() if split else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
