"""Native-format loaders: CIFAR-10/100 (python pickles), SVHN (.mat), TinyImageNet (folders).

Each loader finds its files under --data (fetching them first with --download), reads them without
trusting their contents (restricted unpickling, shape checks) and keeps the order of the official
files, so a training example's row is its stable original index. Nothing in --data is changed,
except that TinyImageNet adds a cache of its decoded images.
"""
import codecs
import hashlib
import pickle
import sys
import zlib

import numpy as np
import torch
from PIL import Image
from engine.progress import progress

from engine.errors import UserError
from engine.io import read_npz, write_npz
from . import register
from .base import Bundle

CIFAR_SHAPE = (3, 32, 32)
SVHN_SHAPE = (32, 32, 3)  # as stored in the .mat files: X is [H, W, C, N]
TINY_SHAPE = (3, 64, 64)
TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_CACHE = ".decoded_cache.npz"


# ----------------------------------------------------------------------------- errors

def _reason(e):
    """First line of an exception's message, so every error stays one line."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _corrupt(path, reason):
    return UserError(f"{path} is corrupt ({reason}); re-download it (delete it and pass --download)")


def _missing(name, path):
    return UserError(f"{name}: missing {path}; pass --download to fetch it, "
                     "or point --data at a complete copy")


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {list(value.shape)}"
    return type(value).__name__


# ----------------------------------------------------------------------------- finding files

def _locate(name, root, download, layouts, required, holding, fetch):
    """The first folder root/<layout> holding every required file; `fetch(root)` first if asked.

    Files already present are never fetched again: --download only fills what is missing.
    """
    if root is None:
        if download:
            raise UserError(f"--download needs --data: the folder to download {name} into")
        raise UserError(f"--data is required for {name} (folder holding {holding}); or pass --download")
    folders = [root / layout for layout in layouts]
    if download and _complete(folders, required) is None:
        _fetch(name, root, fetch)
    found = _complete(folders, required)
    if found is None:
        if not root.is_dir():
            raise UserError(f"--data {root} is not a folder; point it at the folder holding {holding}, "
                            "or pass --download")
        raise _missing(name, _first_missing(folders, required))
    return found


def _complete(folders, required):
    return next((f for f in folders if all((f / r).is_file() for r in required)), None)


def _first_missing(folders, required):
    """The first missing file of the most complete folder (a partial copy); with none begun, the
    accepted layouts, so the message names both."""
    best = max(folders, key=lambda f: sum((f / r).is_file() for r in required))  # first of equals
    if not any((best / r).is_file() for r in required) and len(folders) > 1:
        return " or ".join(str(f / required[0]) for f in folders)
    return next(best / r for r in required if not (best / r).is_file())


def _fetch(name, root, fetch):
    try:
        fetch(root)
    # network errors are OSErrors; torchvision's md5 check raises RuntimeError
    except (OSError, RuntimeError) as e:
        raise UserError(f"--download of {name} failed ({_reason(e)}); check the network, "
                        f"or put the files into --data {root} by hand")


def _download_archive(url, folder, **kwargs):
    # imported here: torchvision is only needed for --download
    from torchvision.datasets.utils import download_and_extract_archive
    download_and_extract_archive(url, str(folder), **kwargs)


def _bundle(name, train, test, num_classes, mean, std, augment):
    (train_x, train_y), (test_x, test_y) = train, test
    return Bundle(name, torch.from_numpy(train_x), torch.from_numpy(train_y), torch.from_numpy(test_x),
                  torch.from_numpy(test_y), num_classes, mean, std, augment=augment)


# ----------------------------------------------------------------------------- CIFAR pickles

# The only globals the official CIFAR pickles (Python 2, numpy 1.x) and pickle.dump of the same dicts
# under Python 3 (protocol 2) refer to. None of them can run code: they only rebuild arrays and bytes.
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's array rebuilder, wherever this numpy keeps it
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 protocol 2 stores bytes
}


class _Refused(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


def _read_pickle(path):
    try:
        with open(path, "rb") as f:
            return _CifarUnpickler(f, encoding="bytes").load()
    except _Refused as e:
        raise UserError(f"{path} holds unexpected objects ({e}) and was refused for safety; "
                        "re-download it (delete it and pass --download)")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            OverflowError, MemoryError) as e:  # what truncated or garbled pickles raise
        raise _corrupt(path, _reason(e))
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}")


def _cifar_part(path, label_key):
    """Images uint8 [N,3,32,32] and labels int64 [N] of one CIFAR pickle, in file order."""
    batch = _read_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise _corrupt(path, f"not a dict with keys b'data' and {label_key!r}")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != np.prod(CIFAR_SHAPE):
        raise _corrupt(path, f"b'data' should be uint8 [N, 3072], not {_describe(data)}")
    try:
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise _corrupt(path, f"labels: {_reason(e)}")
    if labels.shape != (len(data),):
        raise _corrupt(path, f"{len(data)} images but labels of shape {list(labels.shape)}")
    # each row is the R, G and B planes one after the other, each row-major: exactly CHW
    return data.reshape(-1, *CIFAR_SHAPE), labels


def _read_cifar_parts(folder, files, label_key):
    parts = [_cifar_part(folder / f, label_key) for f in files]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _fetch_cifar(source, folder):
    """Download and unpack the official archive into folder; `source` names the torchvision class
    whose url and md5 say where it is. Nothing is unpickled here: the native reader does that."""
    import torchvision.datasets  # only needed for --download
    spec = getattr(torchvision.datasets, source)
    _download_archive(spec.url, folder, filename=spec.filename, md5=spec.tgz_md5)


def _load_cifar(name, root, download, source, base_folder, train_files, test_files, label_key,
                num_classes, mean, std):
    folder = _locate(name, root, download, (f"{name}/{base_folder}", base_folder),
                     train_files + test_files, base_folder, lambda r: _fetch_cifar(source, r / name))
    return _bundle(name, _read_cifar_parts(folder, train_files, label_key),
                   _read_cifar_parts(folder, test_files, label_key), num_classes, mean, std,
                   {"pad": 4, "flip": True})


@register("cifar10")
def load_cifar10(root, download, **options):
    """CIFAR-10 from its python pickles under --data."""
    return _load_cifar("cifar10", root, download, "CIFAR10", "cifar-10-batches-py",
                       tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), b"labels", 10,
                       (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


@register("cifar100")
def load_cifar100(root, download, **options):
    """CIFAR-100 from its python pickles under --data."""
    return _load_cifar("cifar100", root, download, "CIFAR100", "cifar-100-python", ("train",),
                       ("test",), b"fine_labels", 100, (0.5071, 0.4866, 0.4409),
                       (0.2673, 0.2564, 0.2762))


# ----------------------------------------------------------------------------- SVHN .mat

SVHN_FILES = ("train_32x32.mat", "test_32x32.mat")


def _fetch_svhn(folder):
    """Download the official train and test .mat files (md5-checked by torchvision) into folder."""
    from torchvision.datasets import SVHN  # only needed for --download
    from torchvision.datasets.utils import download_url
    for split in ("train", "test"):
        url, filename, md5 = SVHN.split_list[split]
        download_url(url, str(folder), filename, md5)


def _svhn_part(path):
    """Images uint8 [N,3,32,32] and labels int64 [N] of one SVHN .mat file, in file order."""
    import scipy.io  # imported here: only SVHN needs it, and it slows every script's start-up
    from scipy.io.matlab import MatReadError
    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except (MatReadError, ValueError, TypeError, IndexError, OSError, NotImplementedError,
            zlib.error) as e:  # what truncated, garbled or non-v5 .mat files raise
        raise _corrupt(path, _reason(e))
    x, y = mat.get("X"), mat.get("y")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != SVHN_SHAPE:
        raise _corrupt(path, f"X should be uint8 [32, 32, 3, N], not {_describe(x)}")
    if not isinstance(y, np.ndarray) or y.size != x.shape[3]:
        raise _corrupt(path, f"y should hold {x.shape[3]} labels, not {_describe(y)}")
    labels = y.reshape(-1).astype(np.int64)
    labels[labels == 10] = 0  # SVHN writes digit 0 as label 10
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels  # [H,W,C,N] -> [N,C,H,W]


@register("svhn")
def load_svhn(root, download, **options):
    """SVHN from train_32x32.mat / test_32x32.mat under --data."""
    folder = _locate("svhn", root, download, ("svhn", "."), SVHN_FILES, " and ".join(SVHN_FILES),
                     lambda r: _fetch_svhn(r / "svhn"))
    # no flips: a mirrored digit is another digit, or none
    return _bundle("svhn", _svhn_part(folder / SVHN_FILES[0]), _svhn_part(folder / SVHN_FILES[1]), 10,
                   (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), {"pad": 4, "flip": False})


# ----------------------------------------------------------------------------- TinyImageNet folders

def _read_text(path):
    try:
        return path.read_text()
    except UnicodeDecodeError as e:
        raise _corrupt(path, _reason(e))
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}")


def _tiny_wnids(folder):
    """Class ids in label order: sorted, as the official class order is."""
    path = folder / "wnids.txt"
    wnids = sorted({line.strip() for line in _read_text(path).splitlines() if line.strip()})
    if not wnids:
        raise _corrupt(path, "no class ids")
    return wnids


def _tiny_train_listing(folder, wnids):
    """Train image paths, classes in label order and file names sorted within each class."""
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        images = folder / "train" / wnid / "images"
        if not images.is_dir():
            raise _missing("tinyimagenet", images)
        found = sorted(images.glob("*.JPEG"))
        paths += found
        labels += [label] * len(found)
    return paths, np.asarray(labels, dtype=np.int64)


def _tiny_val_listing(folder, wnids):
    """The official val split (our test split), sorted by file name, labelled by its annotations."""
    path = folder / "val" / "val_annotations.txt"
    if not path.is_file():
        raise _missing("tinyimagenet", path)
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    annotated = {}
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in label_of:
            raise _corrupt(path, f"line {number} is not 'file<TAB>wnid<TAB>...' "
                                 "with a wnid from wnids.txt")
        annotated[fields[0]] = label_of[fields[1]]
    names = sorted(annotated)
    paths = [folder / "val" / "images" / name for name in names]
    for image in paths:
        if not image.is_file():
            raise _missing("tinyimagenet", image)
    return paths, np.asarray([annotated[n] for n in names], dtype=np.int64)


def _listing_signature(folder, parts):
    """Digest of which file holds which example with which label: the cache is valid while it holds."""
    h = hashlib.sha256()
    for paths, labels in parts:
        h.update(b"\0split\0")
        for path, label in zip(paths, labels.tolist()):
            h.update(f"{path.relative_to(folder)}\t{label}\n".encode())
    return h.hexdigest()


def _decode_image(path):
    try:
        with Image.open(path) as img:
            chw = np.asarray(img.convert("RGB")).transpose(2, 0, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:  # PIL's decode errors
        raise _corrupt(path, _reason(e))
    if chw.shape != TINY_SHAPE:
        raise _corrupt(path, f"image is {chw.shape[2]}x{chw.shape[1]}, not 64x64")
    return chw


def _decode_images(paths, bar):
    out = np.empty((len(paths), *TINY_SHAPE), dtype=np.uint8)
    for row, path in enumerate(paths):
        out[row] = _decode_image(path)
        bar.update()
    return out


def _read_cache(cache, signature, counts):
    """The cached (train_x, test_x) if the cache matches the current listing, else None."""
    if not cache.is_file():
        return None
    try:
        arrays = read_npz(cache, "decoded-image cache")
    except UserError:
        return None  # a damaged cache only costs time: decode again and overwrite it
    images = arrays.get("train_x"), arrays.get("test_x")
    fits = all(isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.shape == (n, *TINY_SHAPE)
               for x, n in zip(images, counts))
    return images if fits and str(arrays.get("signature")) == signature else None


def _write_cache(cache, signature, images):
    try:
        write_npz(cache, signature=np.array(signature), train_x=images[0], test_x=images[1])
    except OSError as e:
        # a read-only data folder is allowed: loading works, only more slowly next time
        print(f"warning: cannot write the cache {cache} ({e.strerror or e}); "
              "the next load decodes again", file=sys.stderr)


def _decoded(folder, parts):
    """(train_x, test_x) for the listed images: from the cache, or decoded once and cached."""
    cache = folder / TINY_CACHE
    signature = _listing_signature(folder, parts)
    counts = [len(paths) for paths, _ in parts]
    images = _read_cache(cache, signature, counts)
    if images is None:
        bar = progress(sum(counts), "decoding tinyimagenet", "images")
        images = tuple(_decode_images(paths, bar) for paths, _ in parts)
        bar.close()
        _write_cache(cache, signature, images)
    return images


@register("tinyimagenet")
def load_tinyimagenet(root, download, **options):
    """TinyImageNet from the tiny-imagenet-200 folder tree under --data."""
    folder = _locate("tinyimagenet", root, download, ("tiny-imagenet-200", "."), ("wnids.txt",),
                     "tiny-imagenet-200", lambda r: _download_archive(TINY_URL, r))
    wnids = _tiny_wnids(folder)
    parts = _tiny_train_listing(folder, wnids), _tiny_val_listing(folder, wnids)
    train_x, test_x = _decoded(folder, parts)
    return _bundle("tinyimagenet", (train_x, parts[0][1]), (test_x, parts[1][1]), len(wnids),
                   (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), {"pad": 4, "flip": True})
