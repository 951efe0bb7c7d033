import contextlib
import importlib
import io
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the test models are tiny: one thread is as fast, and two stall each other on a busy machine
os.environ.setdefault("OMP_NUM_THREADS", "1")
# no progress bars, in this process and in the processes it starts (tqdm reads this when imported)
os.environ["TQDM_DISABLE"] = "1"



def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long end-to-end run (real processes); "
                                       "`pytest -m 'not slow'` skips them while editing")


def pytest_collection_modifyitems(items):
    """The long tests first: the two pytest-xdist workers then end together, instead of one
    starting a long test while the other has nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The test models are tiny: a second intra-op thread only adds spin-waiting on a busy machine
    (and OMP_NUM_THREADS above may have been set by the user)."""
    import torch
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def papers_default_strengths(tmp_path_factory):
    """Tests see each method's own (the papers') defaults: the per-data-set ones are whatever the
    last search wrote, and tests/test_strength.py tests that layer on files of its own."""
    import unlearn
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(unlearn, "TUNED_FILE", tmp_path_factory.mktemp("strengths") / "none.json")
        yield


@contextlib.contextmanager
def warnings_printed_as_by_a_process():
    """pytest records warnings; a user's process prints them on stderr (with Python's default
    filters), where they count against the one-line error contract."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: \
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        yield


def run_main(script, *args):
    """Run an entry point as a user would (`main_train.py`, or `memorization` for `python -m
    memorization`), but in this process: main(argv), its exit code and what it printed, as a
    CompletedProcess. Starting an interpreter that imports torch takes seconds; keep real
    processes for what needs one."""
    module = importlib.import_module(script.removesuffix(".py") if script.endswith(".py") else f"{script}.__main__")
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    # sys.argv as the interpreter sets it (argparse names the program after it)
    with mock.patch.object(sys, "argv", [module.__file__, *argv]), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err), warnings_printed_as_by_a_process():
        try:
            code = module.main(argv)
        except SystemExit as e:  # argparse and cli_main exit; main() returns the code otherwise
            code = e.code
    return subprocess.CompletedProcess([script, *argv], code or 0, out.getvalue(), err.getvalue())


def assert_clean_error(proc, *needles):
    """Bad input: exit 2, one line on stderr, no traceback, naming what is wrong."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)


DIGITS_EPOCHS = 10  # enough for > 90% test accuracy
# trained_digits's flags: the mlp, a fifth of the cnn's cost to every test that trains or unlearns
# from it; the tests that need the cnn or a BatchNorm net say so in their own flags
DIGITS_TRAIN = ("--dataset", "digits", "--arch", "mlp", "--epochs", str(DIGITS_EPOCHS))


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory):
    """One small original model on digits, shared by tests that need a trained model (and by the
    pytest-xdist workers of one session: the first trains it, the others wait and reuse it)."""
    from engine.io import locked
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    save = shared / "digits_run"
    with locked(shared / "digits_run.lock", "the shared digits run"):
        if not (save / "original" / "metrics.json").is_file():
            proc = run_main("main_train.py", *DIGITS_TRAIN, "--save_dir", save)
            assert proc.returncode == 0, proc.stderr
    return save


def run_folder(save, label, forget_set, seed=2):
    """The one folder of run `label` (method[-tag]) on `forget_set` with `seed`:
    <save>/unlearn/<label>-<identity>/<forget_set>/s<seed>."""
    pattern = re.compile(rf"{re.escape(label)}-[0-9a-f]{{8}}")
    found = [p for p in Path(save, "unlearn").glob(f"{label}-*/{forget_set}/s{seed}")
             if pattern.fullmatch(p.parent.parent.name)]
    assert len(found) == 1, (label, forget_set, seed, found)
    return found[0]


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


def digits_forget_retain(tmp_path_factory, n_forget, n_retain):
    """(bundle, data, forget, retain): digits without augmentation, and disjoint forget / retain
    sets drawn from its training split by a fixed permutation."""
    import torch
    import datasets
    bundle = datasets.load_bundle("digits")
    data = datasets.prepare_data(bundle, tmp_path_factory.mktemp("split"), "cpu", no_aug=True)
    perm = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    return bundle, data, data.train.subset(perm[:n_forget]), data.train.subset(perm[n_forget:n_forget + n_retain])


def load_script(name):
    """scripts/<name>.py as a module (the scripts are not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: errors name the program by its module
    spec.loader.exec_module(module)
    return module
