"""What every memorization command needs: the saved split of --save_dir, the original model,
the output folder, and the file format of a per-example score."""
from pathlib import Path

import numpy as np

import datasets
from models import load_model
from engine.device import fast_path_plan, prepare_model, select
from engine.errors import UserError
from engine.io import recover_folder, write_json, write_npz
from engine.record import run_record


def out_dir(save_dir):
    return Path(save_dir) / "memorization"


def train_hint(args):
    return f"train it first: python main_train.py --dataset {args.dataset} --save_dir {args.save_dir}"


def load_data(args):
    """(device, data) on the split saved in --save_dir; refuses to create a split."""
    device = select(args)
    fast_path_plan(device, args.compile)  # refuses --compile on a CPU, like every other script
    return device, datasets.attach(args, datasets.bundle_from(args), device, create_split=False)


def load_original(args, data, device):
    folder = recover_folder(Path(args.save_dir) / "original", "metrics.json")
    model, meta = load_model(folder, data, hint=train_hint(args),
                                        what="original model")
    return prepare_model(model, device).eval(), meta


def check_positive(value, flag, integer=False):
    if value is None or not value > 0 or value != value or value == float("inf"):
        raise UserError(f"{flag} must be a positive {'integer' if integer else 'finite number'}, got {value}")
    return value


def write_scores(path, index, score, sign, record, **extra):
    """`<name>.npz` (index, score, memorization_sign, extra arrays) then its `<name>.json`."""
    path = Path(path)
    write_npz(path, index=np.asarray(index, dtype=np.int64), score=np.asarray(score, dtype=np.float32),
              memorization_sign=np.array(int(sign), dtype=np.int64), **extra)
    write_json(path.with_suffix(".json"), {**record, "file": path.name, "memorization_sign": int(sign),
                                           "keys": ["index", "score", "memorization_sign", *extra]})
    return path


__all__ = ["out_dir", "load_data", "load_original", "write_scores", "run_record", "check_positive"]
