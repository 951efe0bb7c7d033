import os
import subprocess
import sys

from conftest import ROOT, copy_run_with_confidence_scores


def sweep(script, save, *args):
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", str(ROOT / "scripts" / script), "--save_dir", str(save), *args],
                          capture_output=True, text=True, env=env, timeout=900)


def test_interrupted_sweep_reruns_only_the_missing_runs(trained_digits, tmp_path):
    save = copy_run_with_confidence_scores(trained_digits, tmp_path / "sweep")
    args = ("--methods", "GA NG", "--groups", "high", "--seeds", "1", "-n", "20",
            "--mem_proxy", "confidence", "--extra", "--unlearn_epochs 1")
    proc = sweep("sweep_mem.sh", save, *args)
    assert proc.returncode == 0, proc.stderr
    runs = {m: save / "unlearn" / m / "mem-high_confidence_n20" / "s1" / "metrics.json" for m in ("GA", "NG")}
    assert all(p.is_file() for p in runs.values())
    assert (save / "analysis" / "tow.md").is_file()
    kept = runs["GA"].stat().st_mtime_ns
    runs["NG"].unlink()  # as if the sweep had been killed during that run
    proc = sweep("sweep_mem.sh", save, *args)
    assert proc.returncode == 0, proc.stderr
    assert runs["NG"].is_file() and runs["GA"].stat().st_mtime_ns == kept
    assert proc.stdout.count("skipped:") == 1


def test_sweep_rejects_unknown_flags(tmp_path):
    proc = sweep("sweep_es.sh", tmp_path, "--bogus")
    assert proc.returncode == 2 and "unknown flag --bogus" in proc.stderr
