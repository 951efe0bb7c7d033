"""Atomic writes and safe loading: a killed run never leaves a file that looks complete, a
checkpoint is verified against the checksum its sidecar records, and a file of the wrong shape
is one clear error, not a traceback."""
import contextlib
import errno
import fcntl
import hashlib
import io
import json
import math
import os
import pickle
import re
import shutil
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


def _current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once: os.umask can only be read by setting it


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder, name="*"):
    """Delete the temporary files a killed writer left in `folder` (`.<name>.<pid>.*.tmp`, the
    pid no longer running); a live writer's are kept."""
    for tmp in Path(folder).glob(f".{name}.*.tmp"):
        owner = re.match(r"\..+\.(\d+)\.[^.]+\.tmp$", tmp.name)
        if owner and not _alive(int(owner.group(1))):
            tmp.unlink(missing_ok=True)


def _atomic(path, write):
    path = Path(path)
    if not distributed.is_main():  # data parallel: the ranks hold the same results; rank 0 writes
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    # the writer's pid in the name: a later run can tell a killed writer's leftovers from a live one's
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes 0600; a results file is as readable as any other
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


def _nan_to_null(obj, where, found):
    """obj with NaN/inf floats replaced by None (JSON has no NaN); their paths go to `found`."""
    if isinstance(obj, dict):
        return {k: _nan_to_null(v, f"{where}.{k}" if where else str(k), found) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_null(v, f"{where}[{i}]", found) for i, v in enumerate(obj)]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(obj):
        found.append(where)
        return None
    return obj


def write_json(path, data):
    """Strict JSON, atomically. A NaN/inf value is written as null, and a dict records which
    entries those were under `null_because_not_finite` (say why, never invent a number)."""
    found = []
    data = _nan_to_null(json.loads(json.dumps(data, default=_jsonable, allow_nan=True)), "", found)
    if found and isinstance(data, dict):
        data["null_because_not_finite"] = found
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
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


def read_json(path, what="file", schema=None):
    """A JSON file; with `schema` ({key: type or tuple of types}) it must be an object holding
    those keys with values of those types, else a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise UserError(f"{what} {path} is corrupt ({reason}); delete it and re-create it")
    if schema is not None:
        check_schema(data, schema, f"{what} {path}")
    return data


def check_schema(data, schema, what):
    if not isinstance(data, dict):
        raise UserError(f"{what} is not a JSON object; delete it and re-create it")
    for key, kind in schema.items():
        if key not in data:
            raise UserError(f"{what} lacks '{key}' (made by an older version, or damaged); re-create it")
        if not isinstance(data[key], kind) or isinstance(data[key], bool) and bool not in _types(kind):
            raise UserError(f"{what} has a '{key}' of the wrong kind ({type(data[key]).__name__}); re-create it")
    return data


def _types(kind):
    return kind if isinstance(kind, tuple) else (kind,)


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
    """state_dict only (loadable with torch.load(weights_only=True)); returns the sha256 of the
    file, for the sidecar that describes it (load_state verifies it)."""
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    data = buf.getvalue()
    _atomic(path, lambda f: f.write(data))
    return hashlib.sha256(data).hexdigest()


def load_state(path, what="checkpoint", hint="", sha256=None):
    """The one loader of every checkpoint: weights_only, and the bytes checked against the
    sha256 its sidecar recorded (a flipped byte would otherwise load as a wrong weight)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}" + (f"; {hint}" if hint else ""))
    if sha256 is not None and file_sha256(path) != sha256:
        raise UserError(f"{what} {path} is corrupt (its checksum differs from the one recorded when it was "
                        "saved); re-create it" + (f": {hint}" if hint else ""))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(f"{what} {path} is not a tensor checkpoint (refused for safety: {str(e).splitlines()[0]})")
    except Exception as e:  # torch.load of a damaged file raises many kinds; each means the same here
        reason = (str(e).splitlines() or [""])[0] or type(e).__name__
        raise UserError(f"{what} {path} is corrupt or not a PyTorch checkpoint ({reason})")


def staging(target):
    """Where a folder's replacement is written until it is complete (see replace_folder)."""
    target = Path(target)
    return target.with_name(f".{target.name}.next")


def replace_folder(target):
    """Put the complete folder staging(target) in place of `target`. The old one is moved aside
    first, so an interruption leaves a complete old or new folder that recover_folder puts back."""
    target, new, old = Path(target), staging(target), Path(target).with_name(f".{Path(target).name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def recover_folder(target, marker):
    """Finish a replace_folder that was interrupted between its two renames: the new folder if it
    is complete (holds `marker`), else the old one."""
    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    if target.exists() or not old.exists():
        return target
    new = staging(target)
    os.rename(new if (new / marker).exists() else old, target)
    return target


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}")


def safe_component(name, flag):
    """`name` if it can be one path component (no separator, no '..', no leading dot, at most 100
    characters), else a one-line error naming the flag."""
    if not SAFE_NAME.fullmatch(str(name)) or ".." in str(name):
        raise UserError(f"{flag} {name!r} cannot name a folder: use letters, digits and . _ + = - "
                        "(no '/', no '..', not starting with a dot)")
    return str(name)


@contextlib.contextmanager
def locked(path, what):
    """Hold an exclusive lock on `path` (a lock file holding the owner's pid); another process
    waits here until the owner is done. The kernel releases it when the owner dies (kill -9)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            f.seek(0)
            owner = f.read().strip() or "?"
            print(f"waiting for {what} (being made by process {owner}, lock {path})", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield



def sha256_of_indices(indices):
    arr = np.sort(np.asarray(indices, dtype=np.int64))
    return hashlib.sha256(arr.tobytes()).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
