import json
import shutil

import pytest

from conftest import assert_clean_error, run_folder, run_main


@pytest.fixture()
def run_dir(trained_digits, tmp_path):
    """A private copy of the trained digits run, so tests do not share outputs."""
    dst = tmp_path / "run"
    shutil.copytree(trained_digits, dst)
    return dst


def forget(run_dir, *args):
    return run_main("main_forget.py", "--save_dir", run_dir, *args)


# a one-epoch retrain reference: these tests check how a run uses it, not how good it is
QUICK_REFERENCE = ("--retrain_epochs", "1")


def metrics_of(run_dir, method, fs_name, seed=2):
    return json.loads((run_folder(run_dir, method, fs_name, seed) / "metrics.json").read_text())


def test_retrain_matches_its_reference_exactly_and_reference_is_cached(run_dir):
    # the reference's recipe (2 epochs, the original's lr 0.1) for the retrain method itself
    ref = ("--retrain_epochs", "2", "--num_indexes_to_replace", "60")
    proc = forget(run_dir, "--unlearn", "retrain", "--unlearn_epochs", "2", "--unlearn_lr", "0.1", *ref)
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(run_dir, "retrain", "random_n60_s2")
    assert m["tow"] == 1.0 and m["tow_mia"] == 1.0  # the reference against itself
    assert m["accuracy"] == m["reference"]["accuracy"]
    for key in ("config", "seed", "versions", "split", "forget_set", "mia", "rte", "wall_time_s"):
        assert key in m, key
    assert set(m["accuracy"]) == {"forget", "retain", "val", "test"}
    saved = json.loads((run_dir / "forget_sets" / "random_n60_s2.json").read_text())
    assert saved["sha256"] == m["forget_set"]["sha256"] and len(saved["indices"]) == 60
    refs = list((run_dir / "retrain").iterdir())
    assert len(refs) == 1
    stamp = (refs[0] / "model.pt").stat().st_mtime_ns
    proc = forget(run_dir, "--unlearn", "GA", *ref)
    assert proc.returncode == 0, proc.stderr
    assert (refs[0] / "model.pt").stat().st_mtime_ns == stamp  # reused, not retrained
    ga = metrics_of(run_dir, "GA", "random_n60_s2")
    assert ga["reference"] == m["reference"] and ga["tow"] <= 1.0


def test_same_seed_same_metrics(run_dir):
    out = []
    for tag in ("a", "b"):
        proc = forget(run_dir, "--unlearn", "NG", "--unlearn_epochs", "1", "--num_indexes_to_replace", "40",
                      "--tag", tag, *QUICK_REFERENCE)
        assert proc.returncode == 0, proc.stderr
        m = metrics_of(run_dir, f"NG-{tag}", "random_n40_s2")
        out.append((m["accuracy"], m["mia"], m["tow"], m["tow_mia"]))
    assert out[0] == out[1]


def test_class_wise_forgetting_drops_the_class_from_test(run_dir):
    proc = forget(run_dir, "--unlearn", "FT", "--unlearn_epochs", "1", "--class_to_replace", "3", *QUICK_REFERENCE)
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(run_dir, "FT", "class3_all")
    assert "test_forgotten_classes" in m["accuracy"] and m["forget_set"]["kind"] == "class"
    json.loads((run_dir / "split.json").read_text())  # the split file is still there and valid
    assert m["forget_set"]["size"] > 100


def test_diverged_run_is_recorded_not_averaged(run_dir):
    proc = forget(run_dir, "--unlearn", "GA", "--unlearn_lr", "1e30", "--unlearn_epochs", "3",
                  "--num_indexes_to_replace", "50", *QUICK_REFERENCE)
    assert proc.returncode == 1 and "diverged" in proc.stderr
    m = metrics_of(run_dir, "GA", "random_n50_s2")
    assert m["diverged"] and m["tow"] is None and m["accuracy"] == {}


def test_bad_input(run_dir, tmp_path):
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    cases = [
        (("--unlearn", "forgetful", "--num_indexes_to_replace", "5"), ("--unlearn", "forgetful")),
        (("--num_indexes_to_replace", "100000"), ("--num_indexes_to_replace", "larger")),
        (("--class_to_replace", "12"), ("--class_to_replace 12",)),
        (("--mem", "high", "--num_indexes_to_replace", "5"), ("python -m memorization",)),
        (("--mem", "high", "--group_index", "3", "--num_indexes_to_replace", "5"), ("choose one kind",)),
        (("--unlearn", "SalUn", "--mask_path", tmp_path / "nomask.pt", "--num_indexes_to_replace", "5"),
         ("--mask_path", "generate_mask.py")),
        (("--unlearn", "NG", "--alpha", "3", "--num_indexes_to_replace", "5"), ("--alpha",)),
        (("--dataset", "synthetic", "--num_indexes_to_replace", "5"), ("belongs to data set digits",)),
    ]
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([0, 0, 1]))
    cases.append((("--forget_index_file", dup), ("duplicated",)))
    out_of_range = tmp_path / "oor.txt"
    out_of_range.write_text("5 99999")
    cases.append((("--forget_index_file", out_of_range), ("outside the training set",)))
    for args, needles in cases:
        assert_clean_error(forget(run_dir, *args), *needles)
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before  # nothing written
    assert_clean_error(run_main("main_forget.py", "--save_dir", tmp_path / "empty",
                                "--num_indexes_to_replace", "5"), "main_train.py")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run_dir, corrupt)
    (corrupt / "original" / "model.pt").write_bytes(b"not a checkpoint")
    assert_clean_error(forget(corrupt, "--num_indexes_to_replace", "5"), "corrupt")


def test_main_random_and_generate_mask(run_dir):
    proc = run_main("generate_mask.py", "--save_dir", run_dir, "--num_indexes_to_replace", "30",
                    "--thresholds", "0.2,0.5")
    assert proc.returncode == 0, proc.stderr
    mask_dir = run_dir / "masks" / "random_n30_s2"
    info = json.loads((mask_dir / "masks.json").read_text())
    assert set(info["files"]) == {"0.2", "0.5"}
    import torch
    mask = torch.load(mask_dir / "mask_0.2.pt", weights_only=True)
    kept = sum(float(v.sum()) for v in mask.values()) / sum(v.numel() for v in mask.values())
    assert abs(kept - 0.2) < 0.01
    proc = run_main("main_random.py", "--save_dir", run_dir, "--unlearn", "SalUn", "--path",
                    mask_dir / "mask_0.2.pt", "--num_indexes_to_replace", "30", "--unlearn_epochs", "2",
                    *QUICK_REFERENCE)
    assert proc.returncode == 0, proc.stderr
    assert metrics_of(run_dir, "SalUn", "random_n30_s2")["config"]["mask_path"].endswith("mask_0.2.pt")
    assert_clean_error(run_main("main_random.py", "--save_dir", run_dir, "--unlearn", "FT",
                                "--num_indexes_to_replace", "5"), "main_forget.py")


def test_variants_never_overwrite_each_other_and_skip_existing_skips_only_the_same_run(run_dir):
    base = ["--save_dir", str(run_dir), "--unlearn", "NG", "--num_indexes_to_replace", "20", "--retrain_epochs", "1",
            "--unlearn_epochs", "1"]
    for extra in ([], ["--alpha", "0.9"], ["--augment_forget", "simple"]):
        assert run_main("main_forget.py", *base, *extra).returncode == 0
    runs = sorted((run_dir / "unlearn").glob("NG-*/random_n20_s2/s2/metrics.json"))
    assert len(runs) == 3  # default, --alpha 0.9, the simple augmentation: three folders
    assert "skipped" in run_main("main_forget.py", *base, "--alpha", "0.9", "--skip_existing").stdout
    proc = run_main("main_forget.py", *base, "--alpha", "0.8", "--skip_existing")
    assert proc.returncode == 0 and "skipped" not in proc.stdout
    assert len(list((run_dir / "unlearn").glob("NG-*/random_n20_s2/s2/metrics.json"))) == 4


def test_tied_scores_warn_and_groups_that_cannot_be_disjoint_are_refused(run_dir, tmp_path):
    import numpy as np
    from engine.io import write_npz
    scores = np.zeros(2000)  # the published format: a score per original index, nearly all tied at 0
    scores[:5] = [1.0, 0.9, 0.6, 0.5, 0.4]
    write_npz(tmp_path / "tied.npz", memorization=scores)
    assert_clean_error(forget(run_dir, "--mem", "high", "--num_indexes_to_replace", "500", "--mem_file",
                              tmp_path / "tied.npz"),
                       "need 1500 training examples", "--allow_overlap")
    # generate_mask.py builds the same forget set as main_forget.py, and costs less than a run
    proc = run_main("generate_mask.py", "--save_dir", run_dir, "--mem", "mid", "--num_indexes_to_replace", "9",
                    "--mem_file", tmp_path / "tied.npz")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("warning: --mem mid:")
    recorded = json.loads((run_dir / "forget_sets" / "mem-mid_heldout_n9.json").read_text())
    assert [t.split(":")[0] for t in recorded["params"]["ties"]] == ["high", "mid", "low"]
