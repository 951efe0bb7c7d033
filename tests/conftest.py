import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the test models are tiny: one thread is as fast, and two stall each other on a busy machine
os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_script(script, *args, cwd=None, timeout=600):
    """Run an entry script as a user would; returns CompletedProcess (text)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    target = [script] if script == "-m" else [str(ROOT / script)]  # "-m", "package" runs a module
    return subprocess.run([sys.executable, *target, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=timeout)


def assert_clean_error(proc, *needles):
    """Bad input: exit 2, one line on stderr, no traceback, naming what is wrong."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory):
    """One small original model on digits, shared by tests that need a trained model."""
    save = tmp_path_factory.mktemp("digits_run")
    proc = run_script("main_train.py", "--dataset", "digits", "--save_dir", save, "--epochs", "8")
    assert proc.returncode == 0, proc.stderr
    return save


def copy_run_with_confidence_scores(trained, dst):
    """A private copy of a trained run plus a confidence-proxy score file made from its learning
    events (a stand-in for `python -m memorization proxy --kind confidence`)."""
    import shutil
    import numpy as np
    from engine.io import write_npz
    shutil.copytree(trained, dst)
    ev = np.load(dst / "original" / "learning_events.npz")
    write_npz(dst / "memorization" / "confidence.npz", index=ev["index"],
              score=ev["confidence"].mean(0).astype(np.float64), memorization_sign=np.array(-1.0))
    return dst


@pytest.fixture(scope="module")
def one_torch_thread():
    """In-process tests of tiny models: a second intra-op thread only adds spin-waiting on a busy
    machine (and OMP_NUM_THREADS above may have been set by the user)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def digits_forget_retain(tmp_path_factory, n_forget, n_retain):
    """(bundle, data, forget, retain): digits without augmentation, and disjoint forget / retain
    sets drawn from its training split by a fixed permutation."""
    import torch
    import datasets
    bundle = datasets.load_bundle("digits")
    data = datasets.prepare_data(bundle, tmp_path_factory.mktemp("split"), "cpu", no_aug=True)
    perm = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    return bundle, data, data.train.subset(perm[:n_forget]), data.train.subset(perm[n_forget:n_forget + n_retain])
