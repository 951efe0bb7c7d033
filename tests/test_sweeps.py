import os
import subprocess
import sys

import pytest

from conftest import ROOT, copy_run_with_confidence_scores, load_script, run_folder, run_main


def sweep(script, save, *args):
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", str(ROOT / "scripts" / script), "--save_dir", str(save), *args],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_interrupted_sweep_reruns_only_the_missing_runs(trained_digits, tmp_path):
    save = copy_run_with_confidence_scores(trained_digits, tmp_path / "sweep")
    # LR typed: the sweep's processes read the package's per-data-set defaults, this one the papers'
    quick = ("--unlearn_epochs", "1", "--unlearn_lr", "1e-4", "--retrain_epochs", "1")
    # the sweep's jobs (the command scripts/sweep_mem.sh gives each) are run here, in this process:
    # a first sweep would cost four more interpreter starts
    job = ("--dataset", "digits", "--save_dir", save, "--mem", "high", "--mem_proxy", "confidence",
           "--num_indexes_to_replace", "20", "--seed", "1", "--skip_existing", *quick)
    methods = ("GA", "original")  # the run to redo is `original` (no training): cheapest in a new process
    for method in methods:
        proc = run_main("main_forget.py", "--unlearn", method, *job)
        assert proc.returncode == 0, proc.stderr
    runs = {m: run_folder(save, m, "mem-high_confidence_n20", seed=1) / "metrics.json" for m in methods}
    assert all(p.is_file() for p in runs.values())
    kept = runs["GA"].stat().st_mtime_ns
    runs["original"].unlink()  # as if the sweep had been killed during that run
    proc = sweep("sweep_mem.sh", save, "--methods", " ".join(methods), "--groups", "high", "--seeds", "1",
                 "-n", "20", "--mem_proxy", "confidence", "--extra", " ".join(quick))
    assert proc.returncode == 0, proc.stderr
    assert runs["original"].is_file() and runs["GA"].stat().st_mtime_ns == kept
    assert proc.stdout.count("skipped:") == 1
    assert (save / "analysis" / "tow.md").is_file()


def test_sweep_rejects_unknown_flags(tmp_path):
    proc = sweep("sweep_es.sh", tmp_path, "--bogus")
    assert proc.returncode == 2 and "unknown flag --bogus" in proc.stderr


def test_multireq_table_has_a_tow_column_per_request_and_a_row_per_score_mode(tmp_path):
    table = load_script("multireq_table")
    forget_set = {"kind": "requests", "size": 18, "params": {"group": "mix", "proxy": "ho_ret", "n": 9, "requests": 2}}

    def run(scores, tows, diverged=None):
        return {"method": "rumf-NG", "forget_set": forget_set, "scores": scores, "diverged": diverged,
                "proxy_time_s": 2.0, "wall_time_s": 5.0, "requests": [{"tow": t} for t in tows]}
    text = table.table([run("recomputed", [0.9, 0.8]), run("recomputed", [0.7, 0.6]), run("frozen", [0.9, 0.5]),
                        run("frozen", [0.9], diverged="request 2")])
    lines = text.splitlines()
    assert "ToW after 1 | ToW after 2 | proxy time (s)" in lines[0]
    assert lines[2].startswith("| rumf-NG | mix n9 x2 (ho_ret) | frozen | 1 | 0.900 ± n/a | 0.500 ± n/a")
    assert lines[3].startswith("| rumf-NG | mix n9 x2 (ho_ret) | recomputed | 2 | 0.800 ± ")
    assert "1 diverged runs left out." in text
    assert table.figure([run("recomputed", [0.9, 0.8]), run("frozen", [0.9, 0.5])], tmp_path / "m.png").is_file()


def test_multireq_verdict_pairs_recomputed_with_frozen_by_seed():
    table = load_script("multireq_table")
    forget_set = {"kind": "requests", "size": 18, "params": {"group": "mix", "proxy": "ho_ret", "n": 9, "requests": 2}}

    def run(seed, scores, tows, proxy_s):
        return {"method": "rumf-NG", "seed": seed, "forget_set": forget_set, "scores": scores, "diverged": None,
                "proxy_time_s": proxy_s, "wall_time_s": 5.0, "requests": [{"tow": t} for t in tows]}
    # seed effects large, recomputed always 0.1 above frozen after request 2: only pairing shows it
    runs = [run(s, "frozen", [0.5 + 0.1 * s, 0.3 + 0.1 * s], 1.0) for s in (1, 2, 3)]
    runs += [run(s, "recomputed", [0.5 + 0.1 * s, 0.4 + 0.1 * s + 0.01 * (s % 2)], 3.0) for s in (1, 2, 3)]
    steps = table.paired(runs)["rumf-NG"]
    assert steps[0][:3] == (0.0, 0.0, 0.0) and steps[1][1] > 0 and steps[1][3] == 3
    assert table.verdict(steps[1]) == "recomputing helps"
    assert "3.0 s against 1.0 s frozen (3.0×)" in table.summary(runs)
    flipped = [{**m, "scores": {"frozen": "recomputed", "recomputed": "frozen"}[m["scores"]]} for m in runs]
    assert table.verdict(table.paired(flipped)["rumf-NG"][1]) == "recomputing hurts"


def test_es_sweep_runs_five_seeds_all_groups_for_one_method_then_es_and_its_table(tmp_path):
    """A dry run: PY=echo prints each command instead of running it (the original model is faked)."""
    (tmp_path / "original").mkdir()
    (tmp_path / "original" / "metrics.json").write_text("{}")
    env = {**os.environ, "PY": "echo"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "sweep_es.sh"), "--save_dir", str(tmp_path),
                           "--methods", "FT NG", "--all_groups", "NG", "-n", "30"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    runs = [line for line in proc.stdout.splitlines() if line.startswith("main_forget.py")]
    count = {m: sum(f"--unlearn {m} " in r for r in runs) for m in ("original", "FT", "NG")}
    assert count == {"original": 15 * 5, "FT": 3 * 5, "NG": 15 * 5}  # all 15 groups for NG and original
    assert all("--num_indexes_to_replace 30" in r for r in runs)
    assert f"-m memorization es --dataset digits --save_dir {tmp_path} --num_indexes_to_replace 30" in proc.stdout
    es_table = next(line for line in proc.stdout.splitlines() if line.startswith("scripts/es_table.py"))
    assert f"--save_dir {tmp_path}" in es_table and "--all_groups NG" in es_table

def test_proxy_experiment_runs_each_stage_through_the_sweeps(tmp_path):
    """A dry run (PY=echo prints every command instead of running it): one stage line each, every
    score's files, groups and Vanilla / RUM^F runs through sweep_mem.sh and sweep_rum.sh, nothing else."""
    env = {**os.environ, "PY": "echo"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "proxy_experiment.sh"), "--dataset", "digits",
                           "--seeds", "1 2", "--root", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    stages = [line for line in proc.stdout.splitlines() if line.startswith("[stage ")]
    assert [s.split("]")[0] for s in stages] == [f"[stage {k} of 23" for k in range(1, 24)]
    assert stages[-1] == "[stage 23 of 23] digits: curvature: Vanilla and RUM^F of NG on a mix of 90"
    assert "-m memorization estimate" in proc.stdout and "-m memorization proxy --kind bi_acc" in proc.stdout
    log = (tmp_path / "proxy_experiment.log").read_text()
    assert "-m memorization report" in log
    for score in ("heldout", "confidence", "max_conf", "entropy", "bi_acc", "ho_ret", "curvature"):
        for seed in (1, 2):
            assert f"--variant rumf --unlearn NG --mem mix --mem_proxy {score} --num_indexes_to_replace 90 --seed {seed}" in log
            assert f"--unlearn original --mem mix --mem_proxy {score} --num_indexes_to_replace 90 --seed {seed}" in log
            assert f"--unlearn NG --mem high --mem_proxy {score} --num_indexes_to_replace 30 --seed {seed}" in log
    assert "--variant shuffle" not in log and "--variant rum " not in log
    assert f'scripts/proxy_table.py --save_dir {tmp_path} --command scripts/proxy_experiment.sh --dataset digits ' \
           f'--seeds "1 2" --root {tmp_path} --seconds' in proc.stdout


def test_reproduce_runs_each_stage_logs_its_time_and_refuses_an_unknown_stage(tmp_path):
    """A dry run of one stage (PY=echo prints each command; its original model is faked)."""
    (tmp_path / "multireq-digits" / "original").mkdir(parents=True)
    (tmp_path / "multireq-digits" / "original" / "metrics.json").write_text("{}")
    env = {**os.environ, "PY": "echo"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce.sh"), "--root", str(tmp_path), "--only", "multireq"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[stage ")]  # the stage's output between them
    assert lines[0].startswith("[stage 1 of 1] multireq: scripts/sweep_multireq.sh --dataset digits") and "--write_docs" in lines[0]
    assert lines[1].startswith("[stage 1 of 1] multireq: done in ") and "main_rum.py" in proc.stdout
    assert (tmp_path / "reproduce.log").read_text().split()[1:3] == ["multireq", "done"]
    assert "main_rum.py" in (tmp_path / "reproduce.log.out").read_text()
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce.sh"), "--only", "everything"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("unknown stage everything")
