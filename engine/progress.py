"""Progress a user can see: tqdm's bar on a terminal; without one (a SLURM log, a pipe, nohup) a
plain line every 10% with the elapsed time and an ETA, so a log shows that a long run is alive.
Runs shorter than half a minute stay quiet in a log. TQDM_DISABLE=1 silences both."""
import os
import sys
import time

from tqdm.auto import tqdm

QUIET_SECONDS = 30  # a log gets no lines from runs shorter than this


class LineProgress:
    """The part of tqdm's interface the code uses (update, set_postfix, close), as log lines."""

    def __init__(self, total, desc, unit, every=0.1, stream=None):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream or sys.stderr
        self.done, self.postfix, self.start = 0, "", time.perf_counter()
        self.step = max(1, round(every * total)) if total else 1
        self.next_mark = self.step

    def update(self, n=1):
        self.done += n
        if self.done < self.next_mark and self.done != self.total:
            return
        self.next_mark = (self.done // self.step + 1) * self.step
        elapsed = time.perf_counter() - self.start
        if elapsed < QUIET_SECONDS and self.done != self.total:
            return
        if elapsed >= QUIET_SECONDS:
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            print(f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f}%) "
                  f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s{self.postfix}", file=self.stream, flush=True)

    def set_postfix(self, **values):
        self.postfix = "  " + " ".join(f"{k}={v}" for k, v in values.items())

    def close(self):
        pass


def progress(total, desc, unit="it", enabled=True):
    """A progress counter over `total` units: tqdm on a terminal, LineProgress in a log."""
    if not enabled or os.environ.get("TQDM_DISABLE") in ("1", "true", "True"):
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, leave=False)
    return LineProgress(total, desc, unit)
