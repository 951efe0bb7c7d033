"""User-facing errors: one line on stderr, exit code 2, never a traceback."""
import functools
import os
import sys


class UserError(Exception):
    """Bad input the user can fix (flag, file, folder). The message is shown as is."""


class Diverged(Exception):
    """A loss or weight became NaN/inf; the run is recorded as diverged instead of averaged in."""


def program_name(fn):
    """The name a user ran fn's module by: `main_train.py`, or `memorization` for `python -m
    memorization` (its __main__.py). Not sys.argv[0]: main(argv) may be called in another program."""
    module = sys.modules[fn.__module__]
    if module.__spec__ is not None and module.__spec__.name.endswith(".__main__"):
        return module.__spec__.name.removesuffix(".__main__")
    return os.path.basename(module.__file__)


def cli_main(fn):
    """Wrap an entry point so UserError becomes `prog: error: msg` and exit 2."""
    @functools.wraps(fn)
    def wrapper(argv=None):
        try:
            return fn(argv)
        except UserError as e:
            print(f"{program_name(fn)}: error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: no partial output was kept", file=sys.stderr)
            sys.exit(130)
    return wrapper
