"""scripts/batch.py: a sweep's lines on workers that import torch once. An entry-script line runs
in the worker's process and gives the result a process of its own gives; other lines go to bash;
a failed line is named and the others still run."""
import json
import shutil
import subprocess
import sys

from conftest import ROOT, load_script

batch = load_script("batch")


def test_only_this_interpreters_entry_scripts_run_in_process():
    me = sys.executable
    assert batch.entry_point(f"{me} main_forget.py --unlearn GA --seed 3") == ("main_forget", ["--unlearn", "GA", "--seed", "3"])
    assert batch.entry_point(f"{me} -m memorization estimate") == ("memorization.__main__", ["estimate"])
    assert batch.entry_point(f"{me} -m json.tool x") is None  # not this repository's
    assert batch.entry_point(f"{me} scripts/es_table.py") is None  # a script, not an entry point
    assert batch.entry_point("/no/such/python main_forget.py") is None  # another interpreter: bash
    assert batch.entry_point("echo main_forget.py --seed 1") is None


def test_a_run_in_a_worker_does_not_depend_on_the_run_before_it(trained_digits, tmp_path):
    """The same line twice in one process, another run between them: the same metrics, as two
    fresh processes would give (each run seeds its generators from its own --seed)."""
    me = sys.executable
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        shutil.copytree(trained_digits, folder, ignore=shutil.ignore_patterns("unlearn"))
    line = "{} main_forget.py --save_dir {} --unlearn NG --num_indexes_to_replace 20 --seed 4 --retrain_epochs 1 " \
           "--unlearn_epochs 1"
    assert batch.run_line(line.format(me, folders[0])) == 0
    assert batch.run_line(f"{me} main_forget.py --save_dir {tmp_path / 'first'} --unlearn GA "
                          "--num_indexes_to_replace 30 --seed 9 --unlearn_epochs 2 --unlearn_lr 0.05") == 0
    assert batch.run_line(line.format(me, folders[1])) == 0
    a, b = (json.loads(next(f.glob("unlearn/NG-*/*/s4/metrics.json")).read_text()) for f in folders)
    assert a["accuracy"] == b["accuracy"] and a["tow"] == b["tow"] and a["mia"] == b["mia"]


def test_a_failed_line_is_named_and_the_others_still_run(tmp_path):
    lines = [f"touch {tmp_path / 'a'}", "exit 3", f"touch {tmp_path / 'b'}"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "batch.py"), "-j", "2"], input="\n".join(lines),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "FAILED: exit 3"
    assert (tmp_path / "a").is_file() and (tmp_path / "b").is_file()
    assert sorted(proc.stdout.split("\n")[:3]) == [f"[1 of 3] {lines[0]}", f"[2 of 3] {lines[1]}", f"[3 of 3] {lines[2]}"]


def test_gpus_go_to_the_workers_in_turn():
    lines = ["sleep 1; echo gpu=$CUDA_VISIBLE_DEVICES"] * 4  # long enough for both workers to start
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "batch.py"), "-j", "2", "--gpus", "5,7"],
                          input="\n".join(lines), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = [line for line in proc.stdout.splitlines() if line.startswith("gpu=")]
    assert len(seen) == 4 and set(seen) == {"gpu=5", "gpu=7"}
