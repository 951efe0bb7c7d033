"""Checkpoints: a state_dict (`model.pt`, loadable with weights_only=True) plus a JSON sidecar
(`model.json`) saying how to rebuild the model. Two lines for a user:

    meta = json.load(open("runs/d/original/model.json"))
    model = models.build_model(**meta["build"]); model.load_state_dict(torch.load("…/model.pt", weights_only=True))
"""
from pathlib import Path

from engine.errors import UserError
from engine.io import check_schema, load_state, read_json, save_state, write_json
from .registry import build_model


def build_args(arch, data):
    b = data.bundle
    return {"arch": arch or b.default_arch, "num_classes": b.num_classes,
            "in_shape": list(b.image_shape), "mean": list(b.mean), "std": list(b.std)}


# what every model.json must hold; `build` holds the build_model arguments
MODEL_JSON = {"build": dict, "split_sha": str, "sha256": str}
BUILD = {"arch": str, "num_classes": int, "in_shape": list, "mean": list, "std": list}


def save_model(folder, model, build, split_sha, **meta):
    """model.pt (the state_dict) then model.json (how to rebuild it, the split it was trained on,
    the checksum of model.pt): model.json last, so its presence marks a complete checkpoint."""
    folder = Path(folder)
    sha = save_state(folder / "model.pt", {k: v.detach().cpu() for k, v in model.state_dict().items()})
    write_json(folder / "model.json", {"build": build, "split_sha": split_sha, "sha256": sha, **meta})
    return sha


def model_sha256(folder):
    """The checksum of the model in `folder` (from its model.json), or None when there is none:
    what a file derived from that model records, so it is refused once the model is replaced."""
    path = Path(folder) / "model.json"
    return read_json(path, "model description", schema=MODEL_JSON)["sha256"] if path.is_file() else None


def load_model(folder, data=None, hint="", what="checkpoint"):
    """Rebuild and load a model; refuse one made for another data set, class count or split, and
    a model.pt that is not the file model.json describes."""
    folder = Path(folder)
    if not (folder / "model.json").exists():
        raise UserError(f"{what} not found: {folder / 'model.json'}" + (f"; {hint}" if hint else ""))
    meta = read_json(folder / "model.json", f"{what} description", schema=MODEL_JSON)
    build = check_schema(meta["build"], BUILD, f"{what} description {folder / 'model.json'}: build")
    if data is not None:
        expected = build_args(build["arch"], data)
        if build["num_classes"] != expected["num_classes"] or build["in_shape"] != expected["in_shape"]:
            raise UserError(f"{what} {folder} was made for {build['num_classes']} classes of shape "
                            f"{build['in_shape']}, but --dataset {data.bundle.name} has "
                            f"{expected['num_classes']} of shape {expected['in_shape']}")
        if meta["split_sha"] != data.split.sha:
            raise UserError(f"{what} {folder} was trained on another data split; use its own --save_dir")
    try:
        model = build_model(build["arch"], build["num_classes"], tuple(build["in_shape"]),
                            tuple(build["mean"]), tuple(build["std"]))
    except (ValueError, TypeError) as e:
        raise UserError(f"{what} description {folder / 'model.json'} cannot rebuild the model ({e})")
    state = load_state(folder / "model.pt", what, hint, sha256=meta["sha256"])
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{what} {folder / 'model.pt'} does not match architecture {build['arch']} "
                        f"({str(e).splitlines()[0]})")
    return model, meta
