"""`make demo` end to end in a temporary save dir, with its phase breakdown.

Runs the Makefile's own demo recipe (whatever it grows into) with this interpreter's venv, and
timestamps every output line as it arrives. Phases are the demo's `== ...` headings; commands
are the bash-traced lines (BASH_ENV turns on `set -x` in the demo's bash scripts), each timed
until the next traced line."""
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 300.0


def _venv():
    return sys.prefix if sys.prefix != sys.base_prefix else None


def run_once(threads=None, target_s=TARGET_S, timeout=1800):
    """One `make demo`; threads=N sets OMP_NUM_THREADS=N for every process of the demo."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.rc"
        trace.write_text("set -x\n")
        env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1", "BASH_ENV": str(trace)}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        cmd = ["make", "-s", "demo", f"DEMO_DIR={Path(tmp) / 'demo'}"]
        if _venv():
            cmd.append(f"VENV={_venv()}")
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        events = [(time.perf_counter() - start, line.rstrip("\n")) for line in proc.stdout]
        code = proc.wait()
        watchdog.cancel()
        total = time.perf_counter() - start
    phases, commands = [], []
    traced = [(t, line.lstrip("+").strip()) for t, line in events if line.startswith("+")]
    for i, (t, text) in enumerate(traced):
        if ("python" in text or ".py" in text or ".sh" in text) and not text.startswith("dirname"):
            end = traced[i + 1][0] if i + 1 < len(traced) else total
            commands.append({"command": _short(text), "seconds": round(end - t, 2)})
    marks = [(t, line[3:].strip()) for t, line in events if line.startswith("== ")]
    bounds = [(0.0, "startup (make, before the first phase)")] + marks
    for i, (t, name) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else total
        phases.append({"phase": name, "seconds": round(end - t, 2), "fraction": round((end - t) / total, 3)})
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    prefix = f"OMP_NUM_THREADS={threads} " if threads else ""
    return {"command": prefix + " ".join(cmd[:3]) + " DEMO_DIR=<tmp>", "exit_code": code,
            "seconds": round(total, 1), "load_average_after": load, "target_s": target_s,
            "ratio": round(total / target_s, 3), "phases": phases, "commands": commands,
            "tail": [line for _, line in events[-3:]] if code else []}


def run(target_s=TARGET_S, all_cores_too=False):
    """The demo as a user runs it (the Makefile gives each process one OpenMP thread); then, side
    by side, with torch's default of one thread per core (OMP_NUM_THREADS=<cores>): on a busy
    machine those threads stall each other badly."""
    env_threads = os.environ.pop("OMP_NUM_THREADS", None)  # as a user runs it, not as this process
    try:
        out = run_once(None, target_s)
        if all_cores_too:
            cores = os.cpu_count() or 1
            other = run_once(cores, target_s)
            out["all_cores"] = {k: other[k] for k in ("command", "exit_code", "seconds", "ratio", "phases",
                                                       "commands", "load_average_after")}
            out["all_cores_over_default"] = round(other["seconds"] / out["seconds"], 2)
    finally:
        if env_threads is not None:
            os.environ["OMP_NUM_THREADS"] = env_threads
    return out


def _short(text):
    parts = text.split()
    out = []
    for p in parts:
        out.append(Path(p).name if "/" in p and (p.endswith("python") or "python3" in p) else p)
    text = " ".join(out)
    return text if len(text) <= 110 else text[:107] + "..."
