import json

import numpy as np
import torch

from conftest import DIGITS_EPOCHS, assert_clean_error, run_main


def test_train_writes_outputs_and_learning_events(trained_digits):
    out = trained_digits / "original"
    for name in ("model.pt", "model.json", "config.json", "metrics.json", "learning_events.npz"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    acc = metrics["accuracy"]
    assert set(acc) == {"train", "val", "test"} and acc["test"] > 90
    assert metrics["seed"] == 2 and metrics["config"]["epochs"] == DIGITS_EPOCHS and metrics["split"]["sha256"]
    assert metrics["wall_time_s"] > 0 and len(metrics["val_history"]) == DIGITS_EPOCHS
    state = torch.load(out / "model.pt", weights_only=True)
    assert any(k.endswith("normalize.mean") for k in state)
    ev = np.load(out / "learning_events.npz", allow_pickle=False)
    split = json.loads((trained_digits / "split.json").read_text())
    n_train = split["n_total"] - len(split["val_idx"])
    assert ev["index"].shape == (n_train,) and not set(ev["index"]) & set(split["val_idx"])
    for key in ("confidence", "max_conf", "neg_entropy", "correct"):
        assert ev[key].shape == (DIGITS_EPOCHS, n_train) and np.isfinite(ev[key]).all(), key
    assert np.all(ev["max_conf"] >= ev["confidence"] - 1e-6) and np.all(ev["neg_entropy"] <= 1e-6)
    # training makes examples easier: confidence rises from the first to the last epoch
    assert ev["confidence"][-1].mean() > ev["confidence"][0].mean() + 0.2


def test_same_seed_same_metrics(tmp_path):
    runs = []
    for name in ("a", "b"):
        proc = run_main("main_train.py", "--dataset", "synthetic", "--synth_n", "400",
                        "--epochs", "3", "--save_dir", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads((tmp_path / name / "original" / "metrics.json").read_text()))
        events = np.load(tmp_path / name / "original" / "learning_events.npz")["confidence"]
        runs[-1]["events"] = events
    assert runs[0]["accuracy"] == runs[1]["accuracy"]
    assert runs[0]["val_history"] == runs[1]["val_history"]
    assert np.array_equal(runs[0]["events"], runs[1]["events"])


def test_bad_input_is_one_line_exit_2(tmp_path):
    cases = [
        (("--dataset", "imagenet7"), ("--dataset", "imagenet7")),
        (("--arch", "resnet7"), ("--arch", "resnet7")),
        (("--dataset", "cifar10", "--data", tmp_path / "nothing"), ("cifar",)),
        (("--epochs", "x"), ("--epochs",)),
        (("--val_size", "1.5"), ("--val_size",)),
    ]
    for args, needles in cases:
        save = tmp_path / "out"
        proc = run_main("main_train.py", *args, "--save_dir", save)
        assert_clean_error(proc, *needles)
        assert not save.exists(), args  # nothing written for bad input
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_main("main_train.py", "--save_dir", blocker / "sub", "--epochs", "1")
    assert_clean_error(proc, "--save_dir")
