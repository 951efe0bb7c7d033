"""Atomic writes and safe loading: a killed run never leaves a file that looks complete."""
import hashlib
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .errors import UserError


def ensure_writable_dir(path, flag="--save_dir"):
    """Create `path` (and parents) or fail with a one-line message naming the flag."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True)
        probe.close()
    except OSError as e:
        raise UserError(f"cannot write to {flag} {path}: {e.strerror or e}; choose a writable folder")
    return path


def _atomic(path, write):
    path = Path(path)
    if not distributed.is_main():  # data parallel: the ranks hold the same results; rank 0 writes
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_json(path, data):
    text = json.dumps(data, indent=2, default=_jsonable, allow_nan=True) + "\n"
    return _atomic(path, lambda f: f.write(text.encode()))


def write_text(path, text):
    return _atomic(path, lambda f: f.write(text.encode()))


def write_png(path, fig, dpi=110):
    """Save a matplotlib figure atomically and close it."""
    import io
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return _atomic(path, lambda f: f.write(buf.getvalue()))


def read_json(path, what="file"):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{what} {path} is corrupt ({e}); delete it and re-create it")


def write_npz(path, **arrays):
    return _atomic(path, lambda f: np.savez(f, **arrays))


def read_npz(path, what="file", hint=""):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}" + (f"; {hint}" if hint else ""))
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{what} {path} is corrupt or not a plain .npz ({e})")


def save_state(path, state_dict):
    """state_dict only: loadable with torch.load(weights_only=True)."""
    return _atomic(path, lambda f: torch.save(state_dict, f))


def load_state(path, what="checkpoint", hint=""):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}" + (f"; {hint}" if hint else ""))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(f"{what} {path} holds pickled objects other than tensors; refused for safety ({str(e).splitlines()[0]})")
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as e:
        raise UserError(f"{what} {path} is corrupt or not a PyTorch checkpoint ({str(e).splitlines()[0]})")


def sha256_of_indices(indices):
    arr = np.sort(np.asarray(indices, dtype=np.int64))
    return hashlib.sha256(arr.tobytes()).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
