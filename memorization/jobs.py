"""`python -m memorization estimate --jobs N`: the estimate as N shard processes on this machine.

The parent resolves once what every shard trains (data, architecture, and --path auto's choice, so
all shards agree), starts `python -m memorization estimate <the same flags> --path <chosen>
--shard i --num_shards N` for each shard not yet complete, shows their progress files as one bar,
and merges the shard files into heldout.npz, which is the unsharded result bit for bit
(memorization/heldout.py). A killed run leaves what any sharded run leaves: a rerun skips the
complete shards and resumes the partial ones. When a shard fails, the others are stopped and its
one-line error is the run's.
"""
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.errors import UserError
from engine.progress import progress as progress_bar
from . import heldout
from .progress_file import read_done
from .seeds import shard_models

ROOT = Path(__file__).resolve().parent.parent  # the checkout the shard processes import
POLL_S = 0.2
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def check_jobs(args):
    if args.shard is not None or args.num_shards is not None:
        raise UserError("--jobs starts its own shards: give --jobs or --shard/--num_shards, not both")
    heldout.check_estimate_args(args)
    heldout.check_shard_count(args.jobs, args.num_models)


def shard_command(argv, args, path, shard):
    """The user's own flags, then what this shard must do (argparse keeps a flag's last value)."""
    return [sys.executable, "-m", "memorization", *argv, "--save_dir", str(args.save_dir),
            "--path", path, "--jobs", "1", "--shard", str(shard), "--num_shards", str(args.jobs)]


def shard_env(args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads or 1), TQDM_DISABLE="1")  # one bar: ours
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def die_with_parent():
    """In the shard process (Linux): SIGTERM when the parent dies, even by kill -9, so no shard of
    a killed run keeps writing while a rerun starts that shard again."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ShardProcess:
    """One running shard. Its stderr goes to a temporary file: a pipe nobody reads while the
    parent waits could fill up and stall the shard."""

    def __init__(self, shard, command, env):
        self.shard, self.stderr = shard, tempfile.TemporaryFile()
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)

    def failure(self, num_shards):
        """The shard's one-line error (its last stderr line, without the program name)."""
        code = self.proc.returncode
        self.stderr.seek(0)
        lines = [l.strip() for l in self.stderr.read().decode(errors="replace").splitlines() if l.strip()]
        if lines:
            reason = re.sub(r"^memorization: (error: )?", "", lines[-1])
        elif code < 0:
            reason = f"killed by signal {-code}"
        else:
            reason = f"exit code {code}"
        return f"shard {self.shard} of {num_shards} failed: {reason}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def model_epochs_done(files, per_shard):
    """A complete shard counts all its model-epochs; a running one what its progress file says."""
    return sum(total if f.is_file() else read_done(heldout.progress_path(f)) for f, total in zip(files, per_shard))


def follow(shards, files, per_shard, progress):
    """Wait for every shard, one bar over all their model-epochs; raise the first failure."""
    bar = progress_bar(sum(per_shard), f"heldout models ({len(files)} processes)", "model-epochs", progress)
    shown = 0
    while True:
        codes = [s.proc.poll() for s in shards]
        failed = next((s for s, code in zip(shards, codes) if code not in (None, 0)), None)
        if failed is not None:
            raise UserError(failed.failure(len(files)))
        done = model_epochs_done(files, per_shard)
        if done > shown:
            bar.update(done - shown)
            shown = done
        if all(code == 0 for code in codes):
            break
        time.sleep(POLL_S)
    bar.close()


def run_jobs(args, argv, progress=True):
    """`estimate --jobs N` (argv: the command's own flags, given to each shard process)."""
    check_jobs(args)
    start = time.perf_counter()
    n = args.jobs
    plan = heldout.plan_estimate(args)
    files = [heldout.shard_path(args.save_dir, i, n) for i in range(n)]
    complete = [i for i, f in enumerate(files) if heldout.shard_complete(f, plan.fp)]
    per_shard = [len(shard_models(args.num_models, i, n)) * args.epochs for i in range(n)]
    choice, env = plan.path_choice, shard_env(args)
    del plan  # its data: each shard loads its own copy
    shards = []
    try:
        for i in range(n):
            if i not in complete:
                shards.append(ShardProcess(i, shard_command(argv, args, choice["path"], i), env))
        follow(shards, files, per_shard, progress)
    finally:
        for s in shards:
            s.stop()
    wall = time.perf_counter() - start
    out = heldout.merge(args.save_dir, n, args.influence, args.score, extra_record={
        "path_choice": choice, "jobs": {"processes": n, "wall_time_s": wall, "complete_before": complete}})
    return {"skipped": False, "path": out["path"], "models": out["models"], "wall_time_s": wall,
            "score": out["score"], "complete_before": complete}
