"""Interruption, resume, safe loading and numerical faults, tested on whole runs."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import DIGITS_TRAIN, ROOT, assert_clean_error, run_main

@pytest.mark.slow
def test_killed_training_resumes_to_the_same_result(trained_digits, tmp_path):
    """kill -9 a training process once it has saved a checkpoint; --resume must then give the model
    of the same run left alone (trained_digits) exactly."""
    save = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}  # one thread, as trained_digits
    proc = subprocess.Popen([sys.executable, str(ROOT / "main_train.py"), *DIGITS_TRAIN, "--save_dir", str(save)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = save / ".original.next" / "progress.json"  # the checkpoint's sidecar, written after it
    deadline = time.time() + 300
    while not progress.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert progress.exists(), "the run finished before it could be killed"
    assert not (save / "original" / "metrics.json").exists()  # nothing looks complete
    # a later step refuses the unfinished model with a clear line
    assert_clean_error(run_main("main_forget.py", "--save_dir", save, "--num_indexes_to_replace", "5"),
                       "did not finish", "--resume")
    resumed = run_main("main_train.py", *DIGITS_TRAIN, "--save_dir", save, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not progress.exists()
    a = json.loads((save / "original" / "metrics.json").read_text())
    b = json.loads((trained_digits / "original" / "metrics.json").read_text())
    assert a["accuracy"] == b["accuracy"] and a["val_history"] == b["val_history"]
    wa = torch.load(save / "original" / "model.pt", weights_only=True)
    wb = torch.load(trained_digits / "original" / "model.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_checkpoint_with_a_pickled_callable_is_refused(trained_digits, tmp_path):
    import shutil
    save = tmp_path / "evil"
    shutil.copytree(trained_digits, save)
    torch.save({"weight": torch.zeros(1), "hook": os.system}, save / "original" / "model.pt")
    proc = run_main("main_forget.py", "--save_dir", save, "--num_indexes_to_replace", "5")
    assert_clean_error(proc, "corrupt")  # its checksum is not the one model.json recorded
    meta = json.loads((save / "original" / "model.json").read_text())  # and with a matching checksum
    meta["sha256"] = hashlib.sha256((save / "original" / "model.pt").read_bytes()).hexdigest()
    (save / "original" / "model.json").write_text(json.dumps(meta))
    proc = run_main("main_forget.py", "--save_dir", save, "--num_indexes_to_replace", "5")
    assert_clean_error(proc, "refused for safety")


def test_diverged_training_is_recorded(tmp_path):
    proc = run_main("main_train.py", "--epochs", "2", "--lr", "1e30", "--save_dir", tmp_path)
    assert proc.returncode == 1
    m = json.loads((tmp_path / "original" / "metrics.json").read_text())
    assert m["diverged"] and m["accuracy"] == {}
    assert not (tmp_path / "original" / "model.pt").exists()
    assert_clean_error(run_main("main_forget.py", "--save_dir", tmp_path, "--num_indexes_to_replace", "5"),
                       "main_train.py")
