"""Hostile and unlucky inputs, one test per class of fault: a corrupted checkpoint, a resume with
another recipe, a rerun over a finished folder, silently wrong results, tracebacks on bad input,
a full disk, two runs at once, leftovers of a killed writer, a name that escapes its folder."""
import errno
import json
import os
import shutil
import threading

import numpy as np
import pytest
import torch

import engine.io
from conftest import assert_clean_error, copy_run_with_confidence_scores, run_main

N = ("--num_indexes_to_replace", "20", "--retrain_epochs", "1", "--unlearn_epochs", "1")
QUICK_TRAIN = ("--dataset", "digits", "--epochs", "2")  # where only the files a run leaves matter


@pytest.fixture
def run(trained_digits, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained_digits, dst, ignore=shutil.ignore_patterns("unlearn", "retrain", "masks"))
    return dst


def flip_bytes(path, at, count=64):
    data = bytearray(path.read_bytes())
    at = min(at, len(data) - count)
    data[at:at + count] = os.urandom(count)
    path.write_bytes(bytes(data))


def test_corrupted_checkpoints_are_refused(run, tmp_path):
    """A few flipped bytes in any checkpoint (model, SimCLR encoder and head, generator, mask)."""
    assert run_main("simclr.py", "--save_dir", run, "--epochs", "1").returncode == 0
    assert run_main("unlearn.augment", "train", "--kind", "opengan", "--save_dir", run,
                    "--num_indexes_to_replace", "20", "--epochs", "1").returncode == 0
    assert run_main("generate_mask.py", "--save_dir", run, "--num_indexes_to_replace", "20",
                    "--thresholds", "0.5").returncode == 0
    targets = {"original": (run / "original" / "model.pt", ()),
               "simclr": (run / "simclr" / "model.pt", ("--unlearn", "GA", "--ssl", "simple")),
               "head": (run / "simclr" / "head.pt", ("--unlearn", "GA", "--ssl", "simple")),
               "generator": (next((run / "augment" / "opengan").rglob("generator.pt")),
                             ("--unlearn", "GA", "--augment_forget", "opengan")),
               "mask": (next((run / "masks").rglob("mask_0.5.pt")), ("--unlearn", "SalUn", "--mask_path",
                                                                    next((run / "masks").rglob("mask_0.5.pt"))))}
    for name, (path, extra) in targets.items():
        good = path.read_bytes()
        flip_bytes(path, len(good) // 2)
        proc = run_main("main_forget.py", "--save_dir", run, *N, *extra)
        assert_clean_error(proc, "corrupt")
        path.write_bytes(good)
    for bad in (b"", b"hello, not a checkpoint"):
        (run / "original" / "model.pt").write_bytes(bad)
        assert_clean_error(run_main("main_forget.py", "--save_dir", run, *N), "corrupt")


def test_resume_refuses_another_recipe(tmp_path, monkeypatch):
    """A run killed after its first epoch, resumed with another --lr: refused, naming the flag."""
    import workflows.train as train
    save = tmp_path / "r"
    real = train.save_progress

    def die_after_first_epoch(*a, **kw):
        real(*a, **kw)
        raise KeyboardInterrupt  # as a kill would: the epoch's checkpoint is on disk, nothing else

    monkeypatch.setattr(train, "save_progress", die_after_first_epoch)
    assert run_main("main_train.py", *QUICK_TRAIN, "--save_dir", save).returncode == 130
    monkeypatch.setattr(train, "save_progress", real)
    assert not (save / "original").exists()  # nothing looks complete
    proc = run_main("main_train.py", *QUICK_TRAIN, "--save_dir", save, "--lr", "0.5", "--resume")
    assert_clean_error(proc, "--lr")
    assert run_main("main_train.py", *QUICK_TRAIN, "--save_dir", save, "--resume").returncode == 0
    assert json.loads((save / "original" / "config.json").read_text())["config"]["lr"] == 0.1


def test_rerun_over_a_finished_folder_keeps_the_old_model_until_the_new_one_is_done(run, monkeypatch):
    import workflows.train as train
    before = {p.name: p.read_bytes() for p in (run / "original").iterdir()}
    copy_run_with_confidence_scores(run, run.parent / "scored")
    scored = run.parent / "scored"
    assert run_main("memorization", "proxy", "--kind", "confidence", "--save_dir", scored).returncode == 0

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_model", interrupted)  # killed while writing the new model
    assert run_main("main_train.py", *QUICK_TRAIN, "--save_dir", run, "--seed", "5").returncode == 130
    assert {p.name: p.read_bytes() for p in (run / "original").iterdir()} == before
    monkeypatch.undo()
    # diverged: the last good model and its metrics stay
    assert run_main("main_train.py", *QUICK_TRAIN, "--save_dir", run, "--lr", "1e30").returncode == 1
    assert {p.name: p.read_bytes() for p in (run / "original").iterdir()} == before
    # a successful rerun replaces it, and what was derived from the old model is refused
    assert run_main("main_train.py", *QUICK_TRAIN, "--save_dir", scored, "--seed", "5").returncode == 0
    proc = run_main("main_forget.py", "--save_dir", scored, "--mem", "high", "--mem_proxy", "confidence", *N)
    assert_clean_error(proc, "earlier original model")


def test_no_silently_wrong_results(run, tmp_path):
    bad = [("main_train.py", ("--epochs", "0", "--save_dir", tmp_path / "e0"), "--epochs"),
           ("main_forget.py", ("--save_dir", run, "--retrain_epochs", "0", "--num_indexes_to_replace", "5"),
            "--retrain_epochs"),
           ("main_forget.py", ("--save_dir", run, "--unlearn", "SalUn", "--mask_path", run / "original" / "model.pt",
                               "--num_indexes_to_replace", "5"), "does not fit"),
           ("unlearn.augment", ("train", "--kind", "opengan", "--save_dir", run, "--num_indexes_to_replace", "20",
                                "--epochs", "2", "--gan_lr", "1e30"), "--gan_lr")]
    for script, argv, needle in bad:
        assert_clean_error(run_main(script, *argv), needle)
    assert not (run / "augment").exists() or not list((run / "augment").rglob("generator.pt"))
    # a mask whose names match no weight
    torch.save({"nothing.weight": torch.ones(3)}, tmp_path / "m.pt")
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, "--unlearn", "SalUn", "--mask_path",
                                tmp_path / "m.pt", *N), "does not fit")
    # scores that are all NaN
    engine.io.write_npz(run / "memorization" / "nan.npz", index=np.arange(2000), score=np.full(2000, np.nan),
                        memorization_sign=np.array(1))
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, "--mem", "high", "--mem_proxy", "nan", *N),
                       "no finite score")
    # a model.json without split_sha
    meta = json.loads((run / "original" / "model.json").read_text())
    (run / "original" / "model.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "split_sha"}))
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, *N), "split_sha")


def test_bad_input_never_a_traceback(run, tmp_path):
    (tmp_path / "dup.json").write_text("[5, 5, 7]")
    (tmp_path / "deep.json").write_text("[" * 200000 + "]" * 200000)
    (tmp_path / "empty.pt").write_bytes(b"")
    R = ("--save_dir", run)
    cases = [("main_forget.py", (*R, "--forget_index_file", tmp_path / "dup.json"), "[5]"),
             ("main_forget.py", (*R, "--seed", "-1", "--num_indexes_to_replace", "5"), "--seed"),
             ("main_train.py", ("--split_seed", "-1", "--save_dir", tmp_path / "s"), "--split_seed"),
             ("main_train.py", ("--epochs", "-3", "--save_dir", tmp_path / "s"), "--epochs"),
             ("main_forget.py", (*R, "--forget_index_file", tmp_path / "deep.json"), "nested too deeply"),
             ("main_forget.py", (*R, "--unlearn", "SalUn", "--mask_path", tmp_path / "empty.pt",
                                 "--num_indexes_to_replace", "5"), "corrupt"),
             ("main_forget.py", (*R, "--retrain_lr", "1e30", "--num_indexes_to_replace", "5"), "diverged"),
             ("main_forget.py", (*R, "--group_index", "-1", "--num_indexes_to_replace", "2"), "at least 3"),
             ("main_forget.py", (*R, "--warmup", "-1", "--num_indexes_to_replace", "5"), "--warmup"),
             ("simclr.py", (*R, "--epochs", "1", "--lr", "1e30"), "diverged")]
    for script, argv, needle in cases:
        assert_clean_error(run_main(script, *argv), needle)
    for name, broken in (("model.json", "{}"), ("metrics.json", "[]")):
        good = (run / "original" / name).read_text()
        (run / "original" / name).write_text(broken)
        assert_clean_error(run_main("main_forget.py", *R, "--num_indexes_to_replace", "5"), name)
        (run / "original" / name).write_text(good)
    meta = json.loads((run / "original" / "model.json").read_text())
    meta["build"]["std"] = [0.0]
    (run / "original" / "model.json").write_text(json.dumps(meta))
    assert_clean_error(run_main("main_forget.py", *R, "--num_indexes_to_replace", "5"), "std")


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(run, monkeypatch):
    real = engine.io._atomic

    def full(path, write):
        if str(path).endswith("metrics.json"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write)

    monkeypatch.setattr(engine.io, "_atomic", full)
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, *N), "No space left on device")
    assert not list((run / "unlearn").rglob("metrics.json")) and not list(run.rglob("*.tmp"))


def test_two_runs_on_one_new_forget_set_train_the_reference_once(run):
    results = []

    def one(method):
        results.append(run_main("main_forget.py", "--save_dir", run, "--unlearn", method, *N))

    threads = [threading.Thread(target=one, args=(m,)) for m in ("GA", "FT")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    refs = list((run / "retrain").glob("*/metrics.json"))
    assert len(refs) == 1
    recorded = {json.loads(p.read_text())["reference"]["wall_time_s"] for p in (run / "unlearn").rglob("metrics.json")}
    assert recorded == {json.loads(refs[0].read_text())["wall_time_s"]}


def test_a_killed_writers_temporary_files_are_removed_by_the_next_write(tmp_path):
    dead = tmp_path / ".metrics.json.999999999.abc.tmp"  # no such pid
    live = tmp_path / f".metrics.json.{os.getpid()}.abc.tmp"
    dead.write_text("half")
    live.write_text("half")
    engine.io.write_json(tmp_path / "metrics.json", {"a": 1})
    assert not dead.exists() and live.exists()


def test_a_name_that_would_escape_the_run_folder_is_refused(run):
    before = sorted(p for p in run.parent.rglob("*"))
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, "--tag", "a/../../../../escape", *N), "--tag")
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, "--mem", "high", "--mem_proxy", "../x", *N),
                       "--mem_proxy")
    assert sorted(p for p in run.parent.rglob("*")) == before


def test_analysis_refuses_a_metrics_file_of_the_wrong_shape(tmp_path):
    bad = tmp_path / "unlearn" / "x" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{}")
    assert_clean_error(run_main("analysis.py", "--save_dir", tmp_path), "not an unlearning run")


def test_metrics_json_is_strict_json_and_says_which_values_were_not_finite(tmp_path):
    engine.io.write_json(tmp_path / "m.json", {"mia": {"entropy": float("nan")}, "rte": float("inf"), "tow": 0.5})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"mia": {"entropy": None}, "rte": None, "tow": 0.5,
                                "null_because_not_finite": ["mia.entropy", "rte"]}


def test_a_whole_training_set_forget_set_writes_nothing(run, tmp_path):
    n = len(json.loads((run / "split.json").read_text())["val_idx"])
    total = json.loads((run / "split.json").read_text())["n_total"]
    (tmp_path / "all.txt").write_text(" ".join(str(i) for i in sorted(
        set(range(total)) - set(json.loads((run / "split.json").read_text())["val_idx"]))))
    before = sorted(p for p in run.rglob("*"))
    assert_clean_error(run_main("main_forget.py", "--save_dir", run, "--forget_index_file", tmp_path / "all.txt"),
                       "whole training set")
    assert sorted(p for p in run.rglob("*")) == before and n > 0


def test_an_unexpected_error_is_one_line_too(monkeypatch, run):
    import workflows.forget

    def broken(*a, **kw):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(workflows.forget, "build_forget_set", broken)
    proc = run_main("main_forget.py", "--save_dir", run, *N)
    assert proc.returncode == 3 and len(proc.stderr.strip().splitlines()) == 1
    assert "internal error: ZeroDivisionError" in proc.stderr and "Traceback" not in proc.stderr
