"""User-facing errors: one line on stderr and a non-zero exit (2 for bad input), never a traceback."""
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
    """Wrap an entry point so that what went wrong is one line on stderr, never a traceback:
    bad input (UserError), a training run that diverged outside a recorded method, and a failed
    read or write (a full disk, a folder without permission: OSError) exit 2; an interrupt exits
    130. Output files are written atomically, so none of these leaves a half-written file."""
    @functools.wraps(fn)
    def wrapper(argv=None):
        try:
            return fn(argv)
        except UserError as e:
            fail(fn, e)
        except Diverged as e:
            fail(fn, f"diverged: {e}; lower the learning rate")
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            fail(fn, f"cannot read or write{where}: {e.strerror or e}")
        except KeyboardInterrupt:
            print("interrupted: no partial output was kept", file=sys.stderr)
            sys.exit(130)
        except Exception as e:  # a bug, not bad input: still one line (and exit 3), never a traceback
            if os.environ.get("UNLEARN_DEBUG"):
                raise
            fail(fn, f"{type(e).__name__}: {e} (a bug: please report it; UNLEARN_DEBUG=1 shows the "
                     "traceback)", kind="internal error", code=3)
    return wrapper


def fail(fn, message, kind="error", code=2):
    print(f"{program_name(fn)}: {kind}: {message}", file=sys.stderr)
    sys.exit(code)
