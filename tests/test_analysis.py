import json

import numpy as np
import pytest
from scipy import stats

from conftest import assert_clean_error, run_main
from evaluation import aggregate


def test_t_interval_matches_scipy():
    vals = [0.81, 0.86, 0.79, 0.90]
    mean, lo, hi = aggregate.t_interval(vals)
    sem = np.std(vals, ddof=1) / np.sqrt(4)
    ref = stats.t.interval(0.95, 3, loc=np.mean(vals), scale=sem)
    assert mean == pytest.approx(np.mean(vals)) and (lo, hi) == pytest.approx(ref)
    # by hand: t_{0.975, 3} = 3.182446
    assert hi - mean == pytest.approx(3.182446 * sem, rel=1e-5)
    assert aggregate.t_interval([0.5]) == (0.5, None, None)  # one seed: no interval


def fake_run(root, method, kind, params, seed, tow, diverged=None, forget=50.0):
    ref = {"forget": 60.0, "retain": 99.0, "val": 95.0, "test": 95.0}
    acc = {} if diverged else {"forget": forget, "retain": 98.0, "val": 94.0, "test": 94.0}
    mia = {} if diverged else {"confidence": 0.4, "entropy": 0.3}
    m = {"method": method, "config": {"unlearn": method, "seed": seed}, "diverged": diverged,
         "forget_set": {"name": f"{kind}-{'-'.join(map(str, params.values()))}", "kind": kind, "size": 10, "params": params},
         "accuracy": acc, "mia": mia,
         "reference": {"accuracy": ref, "mia": {"confidence": 0.5, "entropy": 0.5}, "wall_time_s": 2.0},
         "tow": None if diverged else tow, "tow_mia": None if diverged else tow * 0.9,
         "wall_time_s": 1.0, "rte": 0.5}
    path = root / "unlearn" / method / m["forget_set"]["name"] / f"s{seed}" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(m))
    return path


def test_grouping_with_a_diverged_run(tmp_path):
    for seed, t in ((1, 0.8), (2, 0.9)):
        fake_run(tmp_path, "FT", "memorization", {"group": "high", "proxy": "heldout"}, seed, t)
    fake_run(tmp_path, "FT", "memorization", {"group": "high", "proxy": "heldout"}, 3, 0.0,
             diverged="loss became nan")
    fake_run(tmp_path, "FT", "memorization", {"group": "low", "proxy": "heldout"}, 1, 0.95)
    fake_run(tmp_path, "GA", "es", {"group_index": 3}, 1, 0.7)
    rows = aggregate.summarise(aggregate.load_runs([tmp_path / "unlearn"]), ["tow", "forget_gap"])
    by = {(r["method"], r["group"]): r for r in rows}
    high = by[("FT", "high (heldout)")]
    assert high["n_seeds"] == 2 and high["n_diverged"] == 1
    assert high["tow"] == pytest.approx(0.85)  # the diverged run is not averaged in
    assert high["tow_ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std([0.8, 0.9], ddof=1) / np.sqrt(2))
    assert high["forget_gap"] == pytest.approx(-10.0)
    assert by[("FT", "low (heldout)")]["tow_ci"] is None
    assert ("GA", "g3") in by


def test_analysis_scripts_write_tables_and_plots(tmp_path):
    for seed in (1, 2):
        for g in ("low", "mid", "high"):
            fake_run(tmp_path, "FT", "memorization", {"group": g, "proxy": "heldout"}, seed, 0.8 + seed / 100)
    fake_run(tmp_path, "FT", "memorization", {"group": "high", "proxy": "heldout"}, 3, 0, diverged="nan")
    proc = run_main("analysis.py", "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "analysis"
    assert (out / "tow.csv").is_file() and (out / "tow_by_memorization.png").stat().st_size > 1000
    md = (out / "tow.md").read_text()
    assert "+1 diverged" in md and "ToW" in md
    proc = run_main("analysis_mia.py", "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "tow_mia.csv").read_text().startswith("method,kind,group,n_seeds")
    assert (out / "tow_mia_by_memorization.png").is_file()


def test_analysis_bad_input(tmp_path):
    assert_clean_error(run_main("analysis.py", "--save_dir", tmp_path), "main_forget.py")
    bad = tmp_path / "unlearn" / "x" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{oops")
    assert_clean_error(run_main("analysis_mia.py", "--save_dir", tmp_path), "corrupt")
    assert not (tmp_path / "analysis").exists()
