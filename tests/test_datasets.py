import numpy as np
import pytest
import torch

import datasets
from datasets.base import TensorSet, augment_batch
from engine.errors import UserError


def test_digits_bundle_is_fixed_and_stratified():
    a, b = datasets.load_bundle("digits"), datasets.load_bundle("digits")
    assert a.train_x.shape == (1438, 1, 8, 8) and a.test_x.shape == (359, 1, 8, 8)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert 0.0 <= float(a.train_x.min()) and float(a.train_x.max()) <= 1.0
    train_frac = np.bincount(a.train_y.numpy()) / len(a.train_y)
    test_frac = np.bincount(a.test_y.numpy()) / len(a.test_y)
    assert np.abs(train_frac - test_frac).max() < 0.01


def test_unknown_dataset_is_a_user_error():
    with pytest.raises(UserError, match="unknown --dataset 'nope'"):
        datasets.load_bundle("nope")


def test_split_is_saved_and_reused(tmp_path):
    bundle = datasets.load_bundle("digits")
    d1 = datasets.prepare_data(bundle, tmp_path, val_size=0.1, split_seed=3)
    d2 = datasets.prepare_data(bundle, tmp_path)  # later scripts pass no --val_size
    assert torch.equal(d1.val.idx, d2.val.idx) and torch.equal(d1.train.idx, d2.train.idx)
    labels = bundle.train_y.numpy()
    # RUM's rule: floor(10%) of each class
    assert len(d1.val) == sum(int(0.1 * (labels == c).sum()) for c in range(10))
    assert set(d1.val.idx.tolist()).isdisjoint(d1.train.idx.tolist())
    assert len(d1.val) + len(d1.train) == len(labels)
    assert torch.all(d1.train.idx[1:] > d1.train.idx[:-1])  # ascending original indices
    other = datasets.prepare_data(bundle, tmp_path / "other", val_size=0.1, split_seed=4)
    assert not torch.equal(other.val.idx, d1.val.idx)


def test_split_mismatch_and_missing_split_are_user_errors(tmp_path):
    bundle = datasets.load_bundle("digits")
    datasets.prepare_data(bundle, tmp_path, val_size=0.1)
    with pytest.raises(UserError, match="--val_size"):
        datasets.prepare_data(bundle, tmp_path, val_size=0.2)
    synth = datasets.load_bundle("synthetic", synth_n=300)
    with pytest.raises(UserError, match="belongs to data set digits"):
        datasets.prepare_data(synth, tmp_path)
    with pytest.raises(UserError, match="train the original model first"):
        datasets.prepare_data(bundle, tmp_path / "empty", create_split=False)
    (tmp_path / "split.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        datasets.prepare_data(bundle, tmp_path)


def test_original_index_survives_augmentation_and_batching():
    x = torch.arange(20 * 1 * 4 * 4, dtype=torch.float32).reshape(20, 1, 4, 4)
    y = torch.arange(20) % 3
    s = TensorSet(x, y, torch.arange(100, 120), {"pad": 1, "flip": True}).subset(torch.arange(5, 20))
    seen = []
    g = torch.Generator().manual_seed(0)
    for xb, yb, ib in s.batches(4, shuffle=True, augment=True, generator=g, with_index=True):
        for xi, yi, oi in zip(xb, yb, ib):
            raw = x[oi - 100, 0]
            assert yi == y[oi - 100]
            # an augmented image is the original shifted by at most 1 pixel, maybe flipped
            candidates = [torch.roll(v, (dy, dx), (0, 1)) for v in (raw, raw.flip(1))
                          for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            inner = xi[0, 1:-1, 1:-1]
            assert any(torch.equal(inner, c[1:-1, 1:-1]) for c in candidates)
        seen.extend(ib.tolist())
    assert sorted(seen) == list(range(105, 120))
    assert torch.equal(s.select([119, 107]).x, x[[19, 7]])


def test_augment_batch_shapes_and_determinism():
    x = torch.rand(8, 3, 32, 32)
    a = augment_batch(x, pad=4, flip=True, generator=torch.Generator().manual_seed(1))
    b = augment_batch(x, pad=4, flip=True, generator=torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


def test_synthetic_ground_truth():
    b = datasets.load_bundle("synthetic", synth_n=1200, synth_label_noise=0.05)
    rare, noisy = b.extras["rare"], b.extras["mislabeled"]
    assert b.train_x.shape == (1200, 1, 8, 8) and len(rare) == len(noisy) == 1200
    assert 0 < rare.sum() < 400 and 20 < noisy.sum() < 110
    true_class = b.extras["subpopulation"] // 40
    assert np.all((true_class != b.train_y.numpy()) == noisy)  # mislabeled means label flipped
    sizes = b.extras["subpopulation_size"]
    assert np.all(sizes[rare] <= 2) and np.all(sizes[~rare] > 2)
    big = datasets.load_bundle("synthetic", synth_n=200, synth_shape="3x32x32")
    assert big.train_x.shape == (200, 3, 32, 32) and len(big.mean) == 3
    with pytest.raises(UserError, match="--synth_shape"):
        datasets.load_bundle("synthetic", synth_shape="32x32")
