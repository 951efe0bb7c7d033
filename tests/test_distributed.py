"""Data parallelism: torchrun with 2 CPU processes (gloo) gives the one-process model for the same
global batch, and the pieces behind it (sharding, augmentation draws, rank-0-only writes).

The end-to-end runs use `--arch mlp`: PyTorch's SyncBatchNorm is CUDA-only, so a BatchNorm net
under gloo normalises with per-shard statistics and is not the one-process model (see
engine/distributed.py); on CUDA the BN nets get SyncBatchNorm."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT, run_main
from datasets.base import TensorSet, augment_batch
from engine import distributed, io
from engine.errors import UserError


def torchrun(*steps, nproc=2, timeout=300):
    """`torchrun --nproc_per_node 2` of entry points, run one after the other (tests/steps.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--standalone",
           str(ROOT / "tests" / "steps.py"), *map(str, steps)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def state(folder):
    return torch.load(folder / "model.pt", weights_only=True)


def assert_same_model(a, b, atol=1e-5):
    sa, sb = state(a), state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=atol, rtol=1e-4), k


def assert_close_accuracy(a, b):
    # equal up to float tolerance: at most one borderline example may flip
    for k in a:
        assert abs(a[k] - b[k]) < 0.5, (k, a[k], b[k])


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_process(tmp_path):
    """main_train.py and main_forget.py (retrain reference + NG, two batches a step) under
    torchrun --nproc_per_node 2 give the weights and figures of a one-process run."""
    one, two = tmp_path / "one", tmp_path / "two"
    train = ("--dataset", "digits", "--arch", "mlp", "--epochs", "1")  # 6 steps of each: enough to differ
    # every strength typed: the torchrun processes read the package's per-data-set defaults, this one the papers'
    forget = ("--unlearn", "NG", "--num_indexes_to_replace", "64", "--retrain_epochs", "1",
              "--unlearn_epochs", "1", "--alpha", "0.99", "--unlearn_lr", "0.01", "--save_model")
    for script, args in (("main_train.py", train), ("main_forget.py", forget)):
        proc = run_main(script, *args, "--save_dir", one)
        assert proc.returncode == 0, proc.stderr
    proc = torchrun("main_train.py", *train, "--save_dir", two, "--", "main_forget.py", *forget, "--save_dir", two)
    assert proc.returncode == 0, proc.stderr[-3000:]

    assert_same_model(one / "original", two / "original")
    m1, m2 = (json.loads((d / "original" / "metrics.json").read_text()) for d in (one, two))
    assert_close_accuracy(m1["accuracy"], m2["accuracy"])
    e1, e2 = (np.load(d / "original" / "learning_events.npz") for d in (one, two))
    assert np.array_equal(e1["index"], e2["index"])
    for key in ("confidence", "max_conf", "neg_entropy"):
        assert np.isfinite(e2[key]).all(), key  # every example recorded by one of the ranks
        assert np.allclose(e1[key], e2[key], atol=1e-4), key

    f1, f2 = (json.loads(next((d / "unlearn").glob("NG-*/*/s2/metrics.json")).read_text()) for d in (one, two))
    assert_close_accuracy(f1["accuracy"], f2["accuracy"])
    assert_close_accuracy(f1["reference"]["accuracy"], f2["reference"]["accuracy"])
    assert_same_model(next((one / "unlearn").glob("NG-*/*/s2")), next((two / "unlearn").glob("NG-*/*/s2")))
    ref1, ref2 = (next((d / "retrain").iterdir()) for d in (one, two))
    assert_same_model(ref1, ref2)


# ---- the pieces, in one process ----------------------------------------------------------------

@pytest.fixture
def fake_rank(monkeypatch):
    """Pretend to be rank r of w without a process group (sharding needs no communication)."""
    def become(r, w):
        monkeypatch.setitem(distributed._state, "active", True)
        monkeypatch.setitem(distributed._state, "rank", r)
        monkeypatch.setitem(distributed._state, "world", w)
    return become


def test_launch_env():
    assert distributed.launch_env({}) is None
    assert distributed.launch_env({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert distributed.launch_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (1, 4, 1)
    for bad in ({"RANK": "x", "WORLD_SIZE": "2"}, {"RANK": "2", "WORLD_SIZE": "2"}):
        with pytest.raises(UserError):
            distributed.launch_env(bad)


def test_shards_cover_every_row_once():
    for n in range(0, 40):
        for w in (1, 2, 3, 8):
            bounds = [distributed.shard_bounds(n, r, w) for r in range(w)]
            if n % w:
                assert all(b == (0, n) for b in bounds)  # not divisible: every rank takes it whole
                continue
            rows = [i for a, b in bounds for i in range(a, b)]
            assert rows == list(range(n)) and all(b - a == n // w for a, b in bounds)


def test_augmentation_of_a_shard_is_the_rows_of_the_whole_batch():
    x = torch.rand(9, 3, 8, 8)
    whole = augment_batch(x, pad=2, flip=True, generator=torch.Generator().manual_seed(5))
    part = augment_batch(x[5:9], pad=2, flip=True, generator=torch.Generator().manual_seed(5), part=(5, 9, 9))
    assert torch.equal(part, whole[5:9])


def test_shuffled_batches_are_sharded(fake_rank):
    x = torch.arange(23 * 1 * 4 * 4, dtype=torch.float32).reshape(23, 1, 4, 4) / 400
    s = TensorSet(x, torch.arange(23) % 5, torch.arange(100, 123), {"pad": 1, "flip": True})

    def run():
        g = torch.Generator().manual_seed(3)
        return list(s.batches(10, shuffle=True, augment=True, generator=g, with_index=True))

    whole = run()
    shards = []
    for r in range(2):
        fake_rank(r, 2)
        shards.append(run())
    distributed._state["active"] = False
    assert [len(b[0]) for b in shards[0]] == [5, 5, 3]  # the odd last batch is trained whole
    for k, batch in enumerate(whole[:2]):
        for part in range(3):
            assert torch.equal(torch.cat([shards[0][k][part], shards[1][k][part]]), batch[part])
    for part in range(3):
        assert torch.equal(shards[0][2][part], whole[2][part]) and torch.equal(shards[1][2][part], whole[2][part])
    # evaluation passes (unshuffled) are never sharded
    fake_rank(1, 2)
    assert sum(len(b[0]) for b in s.batches(10)) == 23


def test_views_share_images_and_join_without_copy():
    x = torch.rand(10, 1, 4, 4)
    s = TensorSet(x, torch.arange(10), torch.arange(50, 60))
    a, b = s.view([1, 3]), s.select([58, 50], view=True)
    assert a._x is x and b._x is x and torch.equal(b.x, x[[8, 0]])
    u = a.join(b)
    assert u._x is x and torch.equal(u.x, x[[1, 3, 8, 0]]) and u.idx.tolist() == [51, 53, 58, 50]
    assert torch.equal(torch.cat([xb for xb, _ in u.batches(3)]), x[[1, 3, 8, 0]])
    copied = s.subset([2])
    assert copied._x is not x and torch.equal(copied.x, x[[2]])


def test_only_rank_0_writes(tmp_path, fake_rank):
    fake_rank(1, 2)
    io.write_json(tmp_path / "a.json", {"x": 1})
    assert not (tmp_path / "a.json").exists()
    fake_rank(0, 2)
    io.write_json(tmp_path / "a.json", {"x": 1})
    assert (tmp_path / "a.json").exists()
