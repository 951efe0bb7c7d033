"""User-facing errors: one line on stderr, exit code 2, never a traceback."""
import functools
import sys


class UserError(Exception):
    """Bad input the user can fix (flag, file, folder). The message is shown as is."""


class Diverged(Exception):
    """A loss or weight became NaN/inf; the run is recorded as diverged instead of averaged in."""


def cli_main(fn):
    """Wrap an entry point so UserError becomes `prog: error: msg` and exit 2."""
    @functools.wraps(fn)
    def wrapper(argv=None):
        try:
            return fn(argv)
        except UserError as e:
            prog = sys.argv[0].split("/")[-1] if sys.argv and sys.argv[0] else "error"
            print(f"{prog}: error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: no partial output was kept", file=sys.stderr)
            sys.exit(130)
    return wrapper
