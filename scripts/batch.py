"""Run a sweep's commands, one per line on stdin, on N worker processes that each start Python
and import torch once for many runs, instead of once a run.

  printf '%s\\n' "python main_forget.py --unlearn GA ..." ... | python scripts/batch.py -j 2

Why: a new interpreter spends about 4 s importing torch and 3 s more importing torch._dynamo
(the first optimizer step loads it), against a few seconds of work for one digits run; a sweep
of hundreds of runs spent half its time starting up. A line that calls an entry script with the
same interpreter as this one (`<python> main_forget.py ARGS`, `<python> -m memorization ARGS`)
runs as that script's main(ARGS) inside a worker; every run seeds its own generators from its
--seed, so what ran before it in the worker does not change it (tests/test_batch.py). Any other
line runs through bash. Each line is printed as "[k of N] line" when it starts; a failed line is
printed as "FAILED: line" and the others go on; the exit code is 1 when any failed.
--gpus 0,1,2,3 gives worker k the GPU at position k mod 4 (CUDA_VISIBLE_DEVICES, set before the
worker imports torch): a sweep with -j 4 then keeps four GPUs busy, one run on each.
"""
import argparse
import concurrent.futures as cf
import contextlib
import importlib
import multiprocessing
import os
import shlex
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def entry_point(line):
    """(module name, argv) when the line is `<this python> script.py ARGS` or `<this python> -m
    package ARGS` of this repository, else None (the line goes to bash)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if len(words) < 2 or not same_interpreter(words[0]):
        return None
    if words[1] == "-m" and len(words) > 2 and (ROOT / words[2].replace(".", "/") / "__main__.py").is_file():
        return f"{words[2]}.__main__", words[3:]
    script = words[1]
    if script.endswith(".py") and "/" not in script and (ROOT / script).is_file():
        return script.removesuffix(".py"), words[2:]
    return None


def same_interpreter(word):
    # the path itself, not its symlink's target: a virtual environment's python links to the
    # system's, whose packages differ
    found = shutil.which(word) if "/" not in word else os.path.join(ROOT, word)
    return found is not None and os.path.abspath(found) == os.path.abspath(sys.executable)


def run_line(line):
    """Run one line and return its exit code: in this process when it is an entry point."""
    target = entry_point(line)
    if target is None:
        return subprocess.run(["bash", "-c", line], cwd=ROOT).returncode
    name, argv = target
    module = importlib.import_module(name)
    # sys.argv as the interpreter sets it: argparse names the program after it
    with mock.patch.object(sys, "argv", [module.__file__, *argv]), contextlib.chdir(ROOT):
        try:
            code = module.main(argv)
        except SystemExit as e:  # argparse and cli_main exit; main() returns the code otherwise
            code = e.code
        except BaseException:  # a bug the entry point did not turn into a line: this run fails
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    return code if isinstance(code, int) else (0 if code is None else 1)


def job(label, line):
    sys.stdout.write(f"{label} {line}\n")  # one write: workers share the output, print() makes two
    sys.stdout.flush()
    return run_line(line)


def take_gpu(counter, gpus):
    """A worker's initializer: the next GPU of `gpus` in turn, for this worker and what it starts."""
    with counter.get_lock():
        k = counter.value
        counter.value += 1
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus[k % len(gpus)]


def run_all(lines, jobs, gpus=None):
    """Exit code of the batch: 1 when a line failed (or its worker died), else 0."""
    workers = min(jobs, len(lines))
    context = multiprocessing.get_context("spawn")  # clean interpreters, torch not yet loaded
    if gpus:  # bash lines too: the GPU goes in the worker's environment, which bash inherits
        pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=take_gpu,
                                      initargs=(context.Value("i", 0), gpus))
    elif any(entry_point(line) for line in lines):
        pool = cf.ProcessPoolExecutor(workers, mp_context=context)
    else:  # bash lines only: threads start them, no interpreter needed
        pool = cf.ThreadPoolExecutor(workers)
    failed = False
    try:
        futures = {pool.submit(job, f"[{k} of {len(lines)}]", line): line for k, line in enumerate(lines, 1)}
        for future in cf.as_completed(futures):
            try:
                ok = future.result() == 0
            except cf.process.BrokenProcessPool:  # a worker killed (out of memory, a signal)
                ok = False
            if not ok:
                failed = True
                sys.stderr.write(f"FAILED: {futures[future]}\n")
    finally:  # on an interrupt, the lines not started yet are dropped, not run
        pool.shutdown(cancel_futures=True)
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--gpus", default=None, help="comma-separated GPU ids, one per worker in turn (e.g. 0,1,2,3)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else None
    lines = [line.strip() for line in sys.stdin if line.strip()]
    try:
        return run_all(lines, args.jobs, gpus) if lines else 0
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished runs are kept; run the sweep again to resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
