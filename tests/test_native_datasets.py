"""Native-format loaders on tiny files written here in each official format (no download, no network).

Every writer returns the images and labels it wrote, in official file order, so a test can check
that row i of the loaded train split is exactly the i-th image of the files (stable original index).
"""
import os
import pickle

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

import datasets
from engine.errors import UserError

PER_BATCH = 4


def _images(rng, n, size):
    return rng.randint(0, 256, size=(n, 3, size, size)).astype(np.uint8)


def _dump(path, payload, legacy_numpy=False):
    """pickle.dump with protocol 2 as CIFAR's files are; legacy_numpy names the array rebuilder
    `numpy.core.multiarray` as the official files (numpy 1.x) do."""
    raw = pickle.dumps(payload, protocol=2)
    if legacy_numpy:
        raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path.write_bytes(raw)


def _cifar_batch(path, x, y, label_key, legacy_numpy=False):
    # row = R plane, G plane, B plane, each row-major: the CHW image flattened
    _dump(path, {b"batch_label": b"fixture", label_key: [int(v) for v in y],
                 b"data": x.reshape(len(x), -1), b"filenames": [b"f.png"] * len(x)}, legacy_numpy)


def write_cifar10(folder, seed=0):
    folder.mkdir(parents=True)
    rng = np.random.RandomState(seed)
    train_x, train_y = _images(rng, 5 * PER_BATCH, 32), rng.randint(0, 10, 5 * PER_BATCH)
    for b in range(5):
        rows = slice(b * PER_BATCH, (b + 1) * PER_BATCH)
        _cifar_batch(folder / f"data_batch_{b + 1}", train_x[rows], train_y[rows], b"labels", True)
    test_x, test_y = _images(rng, 3, 32), rng.randint(0, 10, 3)
    _cifar_batch(folder / "test_batch", test_x, test_y, b"labels", True)
    return train_x, train_y, test_x, test_y


def write_cifar100(folder, seed=1):
    folder.mkdir(parents=True)
    rng = np.random.RandomState(seed)
    train_x, train_y = _images(rng, 6, 32), np.array([0, 99, 5, 42, 7, 99])
    test_x, test_y = _images(rng, 2, 32), np.array([3, 98])
    _cifar_batch(folder / "train", train_x, train_y, b"fine_labels")
    _cifar_batch(folder / "test", test_x, test_y, b"fine_labels")
    return train_x, train_y, test_x, test_y


def _svhn_mat(path, x, digits):
    # SVHN stores X as [H, W, C, N] and digit 0 as label 10
    labels = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]
    scipy.io.savemat(path, {"X": x.transpose(2, 3, 1, 0), "y": labels})


def write_svhn(folder, seed=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    train_x, train_y = _images(rng, 5, 32), np.array([0, 1, 9, 0, 4])
    test_x, test_y = _images(rng, 2, 32), np.array([0, 3])
    _svhn_mat(folder / "train_32x32.mat", train_x, train_y)
    _svhn_mat(folder / "test_32x32.mat", test_x, test_y)
    return train_x, train_y, test_x, test_y


TINY_WNIDS = ["n03", "n01", "n02"]  # written unsorted: labels follow the sorted order
TINY_TRAIN_NAMES = ["2", "10"]  # file names sort as text: _10 before _2
TINY_VAL = [("val_3.JPEG", "n01"), ("val_0.JPEG", "n03"), ("val_2.JPEG", "n02"), ("val_1.JPEG", "n01")]


def _save_image(path, chw):
    # PNG content under the .JPEG name: lossless, so pixels can be compared exactly; PIL reads either
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(chw.transpose(1, 2, 0)).save(path, format="PNG")


def write_tinyimagenet(folder, seed=3):
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    train_x, train_y = [], []
    for label, wnid in enumerate(sorted(TINY_WNIDS)):
        (folder / "train" / wnid).mkdir(parents=True)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("not an image\n")
        for name in sorted(f"{wnid}_{n}.JPEG" for n in TINY_TRAIN_NAMES):
            image = _images(rng, 1, 64)[0]
            _save_image(folder / "train" / wnid / "images" / name, image)
            train_x.append(image)
            train_y.append(label)
    test_x, test_y = [], []
    for name, wnid in sorted(TINY_VAL):
        image = _images(rng, 1, 64)[0]
        _save_image(folder / "val" / "images" / name, image)
        test_x.append(image)
        test_y.append(sorted(TINY_WNIDS).index(wnid))
    (folder / "val" / "val_annotations.txt").write_text(
        "".join(f"{name}\t{wnid}\t0\t0\t63\t63\n" for name, wnid in TINY_VAL))
    return np.stack(train_x), np.array(train_y), np.stack(test_x), np.array(test_y)


def assert_bundle_is(bundle, expected, num_classes):
    train_x, train_y, test_x, test_y = expected
    for got, want in ((bundle.train_x, train_x), (bundle.test_x, test_x)):
        assert got.dtype == torch.uint8 and got.shape == want.shape
        assert torch.equal(got, torch.from_numpy(want))  # row i is the i-th image of the files
    for got, want in ((bundle.train_y, train_y), (bundle.test_y, test_y)):
        assert got.dtype == torch.int64 and got.tolist() == list(want)
    assert bundle.num_classes == num_classes


def load(name, root, **kw):
    return datasets.load_bundle(name, data=root, **kw)


# ----------------------------------------------------------------------------- reading

def test_cifar10_reads_the_five_batches_in_order(tmp_path):
    expected = write_cifar10(tmp_path / "cifar10" / "cifar-10-batches-py")
    bundle = load("cifar10", tmp_path)
    assert_bundle_is(bundle, expected, 10)
    assert bundle.train_x.shape == (20, 3, 32, 32)
    # original index 9 is row 1 of data_batch_3; its pixel (c=1, h=2, w=3) sits at 1024 + 2*32 + 3
    raw = expected[0][8:12].reshape(4, -1)
    assert int(bundle.train_x[9, 1, 2, 3]) == int(raw[1, 1024 + 2 * 32 + 3])
    assert bundle.mean == (0.4914, 0.4822, 0.4465) and bundle.augment == {"pad": 4, "flip": True}


def test_cifar10_folder_directly_under_data(tmp_path):
    expected = write_cifar10(tmp_path / "cifar-10-batches-py")
    assert_bundle_is(load("cifar10", tmp_path), expected, 10)


def test_cifar100_uses_fine_labels(tmp_path):
    expected = write_cifar100(tmp_path / "cifar100" / "cifar-100-python")
    bundle = load("cifar100", tmp_path)
    assert_bundle_is(bundle, expected, 100)
    assert bundle.std == (0.2673, 0.2564, 0.2762)
    assert_bundle_is(load("cifar100", tmp_path / "cifar100"), expected, 100)  # the other layout


def test_svhn_maps_label_10_to_digit_0_and_transposes(tmp_path):
    expected = write_svhn(tmp_path / "svhn")
    bundle = load("svhn", tmp_path)
    assert_bundle_is(bundle, expected, 10)
    stored = scipy.io.loadmat(tmp_path / "svhn" / "train_32x32.mat")
    assert 10 in stored["y"] and bundle.train_y[0] == 0
    assert int(bundle.train_x[3, 2, 0, 1]) == int(stored["X"][0, 1, 2, 3])  # X[h, w, c, n]
    assert bundle.augment == {"pad": 4, "flip": False}
    assert_bundle_is(load("svhn", tmp_path / "svhn"), expected, 10)  # files directly under --data


def _tree(folder):
    return {(str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*")}


def test_tinyimagenet_order_labels_and_cache(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    expected = write_tinyimagenet(folder)
    before = _tree(folder)
    first = load("tinyimagenet", tmp_path)
    assert_bundle_is(first, expected, 3)
    assert first.train_x.shape == (6, 3, 64, 64) and first.test_x.shape == (4, 3, 64, 64)
    assert first.train_y.tolist() == [0, 0, 1, 1, 2, 2]
    assert first.test_y.tolist() == [2, 0, 1, 0]  # val_0..val_3 by their annotations
    cache = folder / ".decoded_cache.npz"
    assert cache.is_file()
    after = _tree(folder)
    assert before <= after and {e[0] for e in after - before} == {cache.name}  # nothing else changed
    # damage an image: the second load must come from the cache, not decode again
    (folder / "train" / "n01" / "images" / "n01_2.JPEG").write_bytes(b"broken")
    second = load("tinyimagenet", folder)  # the folder itself, holding wnids.txt
    assert torch.equal(second.train_x, first.train_x) and torch.equal(second.test_x, first.test_x)
    assert torch.equal(second.train_y, first.train_y) and torch.equal(second.test_y, first.test_y)


def test_tinyimagenet_cache_follows_the_listing(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    write_tinyimagenet(folder)
    load("tinyimagenet", tmp_path)
    (folder / "train" / "n02" / "images" / "n02_2.JPEG").unlink()
    bundle = load("tinyimagenet", tmp_path)  # stale cache: decoded again
    assert bundle.train_y.tolist() == [0, 0, 1, 2, 2]


# ----------------------------------------------------------------------------- bad input

def test_data_flag_is_required(tmp_path):
    with pytest.raises(UserError, match=r"--data is required for cifar10 \(folder holding "
                                        r"cifar-10-batches-py\); or pass --download"):
        load("cifar10", None)
    with pytest.raises(UserError, match="--download needs --data"):
        load("svhn", None, download=True)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn", "tinyimagenet"])
def test_missing_folder_says_what_to_do(tmp_path, name):
    with pytest.raises(UserError, match="is not a folder.*--download"):
        load(name, tmp_path / "nowhere")
    with pytest.raises(UserError, match="missing .*--download"):
        load(name, tmp_path)  # an empty folder


def test_missing_file_is_named(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_cifar10(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(UserError, match=r"missing \S*cifar-10-batches-py/data_batch_3; pass --download"):
        load("cifar10", tmp_path)
    (tmp_path / "svhn").mkdir()
    scipy.io.savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 1), np.uint8)})
    with pytest.raises(UserError, match=r"missing \S*svhn/test_32x32.mat"):
        load("svhn", tmp_path)


def test_tinyimagenet_missing_parts_are_named(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    write_tinyimagenet(folder)
    (folder / "val" / "images" / "val_2.JPEG").unlink()
    with pytest.raises(UserError, match="missing .*val_2.JPEG"):
        load("tinyimagenet", tmp_path)
    (folder / "val" / "val_annotations.txt").unlink()
    with pytest.raises(UserError, match="missing .*val_annotations.txt"):
        load("tinyimagenet", tmp_path)


def test_truncated_pickle_is_corrupt(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_cifar10(folder)
    raw = (folder / "data_batch_2").read_bytes()
    (folder / "data_batch_2").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(UserError, match=r"data_batch_2 is corrupt \(.*\); re-download it"):
        load("cifar10", tmp_path)


def test_pickle_with_wrong_array_size_is_corrupt(tmp_path):
    folder = tmp_path / "cifar-100-python"
    write_cifar100(folder)
    _dump(folder / "test", {b"data": np.zeros((2, 100), np.uint8), b"fine_labels": [0, 1]})
    with pytest.raises(UserError, match=r"test is corrupt \(b'data' should be uint8 \[N, 3072\]"):
        load("cifar100", tmp_path)


class _RunsShell:
    """Pickles as a call to os.system: what a malicious data file would hold."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_with_foreign_objects_is_refused_unrun(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_cifar10(folder)
    marker = tmp_path / "ran"
    _dump(folder / "data_batch_4", {b"data": _RunsShell(f"touch {marker}"), b"labels": [0]})
    refused = r"data_batch_4 holds unexpected objects \(\S*system\) and was refused"
    with pytest.raises(UserError, match=refused):
        load("cifar10", tmp_path)
    assert not marker.exists()


def test_corrupt_mat_is_reported(tmp_path):
    write_svhn(tmp_path)
    raw = (tmp_path / "test_32x32.mat").read_bytes()
    (tmp_path / "test_32x32.mat").write_bytes(raw[:300])
    with pytest.raises(UserError, match=r"test_32x32.mat is corrupt \(.*\); re-download it"):
        load("svhn", tmp_path)
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file" * 20)
    with pytest.raises(UserError, match="test_32x32.mat is corrupt"):
        load("svhn", tmp_path)


def test_unreadable_image_is_corrupt_and_not_cached(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    write_tinyimagenet(folder)
    (folder / "val" / "images" / "val_1.JPEG").write_bytes(b"\xff\xd8 truncated jpeg")
    with pytest.raises(UserError, match=r"val_1.JPEG is corrupt \(.*\); re-download it"):
        load("tinyimagenet", tmp_path)
    assert not (folder / ".decoded_cache.npz").exists()
    Image.new("RGB", (32, 32)).save(folder / "val" / "images" / "val_1.JPEG", format="PNG")
    with pytest.raises(UserError, match=r"val_1.JPEG is corrupt \(image is 32x32, not 64x64\)"):
        load("tinyimagenet", tmp_path)


# ----------------------------------------------------------------------------- --download (no network)

def test_download_fetches_only_what_is_missing_into_the_expected_folder(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    calls = []

    def fake_archive(url, download_root, **kwargs):  # stands in for the official archive
        calls.append((url, download_root, kwargs))
        write_cifar10(tmp_path / "cifar10" / "cifar-10-batches-py")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_archive)
    load("cifar10", tmp_path, download=True)
    load("cifar10", tmp_path, download=True)  # already there: no second fetch
    assert len(calls) == 1
    url, download_root, kwargs = calls[0]
    assert url.endswith("cifar-10-python.tar.gz") and download_root == str(tmp_path / "cifar10")
    assert kwargs["md5"]  # the archive is checked before it is unpacked


def test_failed_download_is_a_user_error(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(url, root, filename=None, md5=None):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(UserError, match=r"--download of svhn failed \(Network is unreachable\)"):
        load("svhn", tmp_path, download=True)
