"""A sweep's runs two ways, side by side: one new interpreter a run (xargs -P, the conventional
way, and how our sweeps ran before) and scripts/batch.py (workers that import torch once).

The same lines (every unlearning method at its defaults on one digits forget set) run in two
copies of one trained run folder whose retrain reference is already made, so both do the same
work; the figures of the two copies must come out equal. Ratio: one-process-a-run time /
batch time, both with `jobs` processes at a time and one OpenMP thread each."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import timed

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("FT", "GA", "NG", "SCRUB", "l1-sparse", "wfisher", "RL", "SalUn")


def _run(cmd, stdin=None, env=None):
    proc = subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[-300:]}")


def lines_for(save, methods, n, seed):
    return "".join(f"{sys.executable} main_forget.py --save_dir {save} --unlearn {m} --num_indexes_to_replace {n} "
                   f"--seed {seed}\n" for m in methods)


def metrics(save):
    return {p.parts[-4].split("-")[0]: json.loads(p.read_text())["tow"]
            for p in sorted(Path(save, "unlearn").glob("*/*/s*/metrics.json"))}


def run(jobs=2, methods=METHODS, n=30, seed=1, original_epochs=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        _run([sys.executable, "main_train.py", "--dataset", "digits", "--save_dir", str(base),
              *(["--epochs", str(original_epochs)] if original_epochs else [])], env=env)
        _run([sys.executable, "main_forget.py", "--save_dir", str(base), "--unlearn", "original",  # the retrain
              "--num_indexes_to_replace", str(n), "--seed", str(seed)], env=env)  # reference, made once
        copies = {way: shutil.copytree(base, Path(tmp) / way) for way in ("process_a_run", "batch")}
        seconds = {
            "process_a_run": timed(lambda: _run(["bash", "-c", f"xargs -P {jobs} -I{{}} bash -c '{{}}'"],
                                                lines_for(copies["process_a_run"], methods, n, seed), env))[0],
            "batch": timed(lambda: _run([sys.executable, "scripts/batch.py", "-j", str(jobs)],
                                        lines_for(copies["batch"], methods, n, seed), env))[0]}
        same = metrics(copies["process_a_run"]) == metrics(copies["batch"])
    return {"dataset": "digits", "runs": len(methods), "jobs": jobs, "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "ratio": round(seconds["process_a_run"] / seconds["batch"], 2), "same_metrics": same}
