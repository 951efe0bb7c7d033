"""`python tests/steps.py main_train.py ARGS -- main_forget.py ARGS`: entry points one after the
other in one process. Under torchrun the ranks then start (import torch, join the process group)
once for a whole pipeline instead of once a script."""
import importlib
import itertools
import sys

import torch.distributed as dist


def main(argv):
    for is_separator, step in itertools.groupby(argv, lambda a: a == "--"):
        if is_separator:
            continue
        script, *args = step
        code = importlib.import_module(script.removesuffix(".py")).main(args)
        if code:
            return code
        if dist.is_initialized():
            dist.barrier()  # only rank 0 writes: every rank waits for this step's files, as a user would
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
