"""How far a shard has got, in a small JSON file next to its partial file: `estimate --jobs` sums
these into one progress bar, and a user can read them for the tasks of a SLURM array.

The unit is the model-epoch (a model trained for one epoch), finer than the partial file's groups
of models, so a bar over a few large groups still moves.
"""
import json
import time
from pathlib import Path

from engine.io import write_json

WRITE_EVERY_S = 1.0  # a tiny model's epoch can take milliseconds: do not write a file for each


class ShardProgress:
    """Counts model-epochs and writes {"done", "total"} to `path` at most every WRITE_EVERY_S."""

    def __init__(self, path, total):
        self.path, self.total, self.done, self.written_at = Path(path), int(total), 0, float("-inf")

    def advance(self, n):
        self.done += n
        if time.monotonic() - self.written_at >= WRITE_EVERY_S or self.done >= self.total:
            write_json(self.path, {"done": self.done, "total": self.total})
            self.written_at = time.monotonic()

    def close(self):
        """The shard file is written: it says the shard is done from now on."""
        self.path.unlink(missing_ok=True)


def read_done(path):
    """Model-epochs a shard's progress file reports; 0 when there is none yet (or it is unreadable:
    it is only a display aid, rewritten within a second)."""
    try:
        return int(json.loads(Path(path).read_text())["done"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
