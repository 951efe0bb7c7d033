"""Checkpoints: a state_dict (`model.pt`, loadable with weights_only=True) plus a JSON sidecar
(`model.json`) saying how to rebuild the model. Two lines for a user:

    meta = json.load(open("runs/d/original/model.json"))
    model = models.build_model(**meta["build"]); model.load_state_dict(torch.load("…/model.pt", weights_only=True))
"""
from pathlib import Path

from engine.errors import UserError
from engine.io import load_state, read_json, save_state, write_json
from .registry import build_model


def build_args(arch, data):
    b = data.bundle
    return {"arch": arch or b.default_arch, "num_classes": b.num_classes,
            "in_shape": list(b.image_shape), "mean": list(b.mean), "std": list(b.std)}


def save_model(folder, model, build, **meta):
    folder = Path(folder)
    save_state(folder / "model.pt", {k: v.detach().cpu() for k, v in model.state_dict().items()})
    write_json(folder / "model.json", {"build": build, **meta})


def load_model(folder, data=None, hint="", what="checkpoint"):
    """Rebuild and load a model; refuse one made for another data set, class count or split."""
    folder = Path(folder)
    meta = read_json(folder / "model.json", f"{what} description") if (folder / "model.json").exists() \
        else None
    if meta is None:
        raise UserError(f"{what} not found: {folder / 'model.json'}" + (f"; {hint}" if hint else ""))
    build = meta["build"]
    if data is not None:
        expected = build_args(build["arch"], data)
        if build["num_classes"] != expected["num_classes"] or build["in_shape"] != expected["in_shape"]:
            raise UserError(f"{what} {folder} was made for {build['num_classes']} classes of shape "
                            f"{build['in_shape']}, but --dataset {data.bundle.name} has "
                            f"{expected['num_classes']} of shape {expected['in_shape']}")
        if meta.get("split_sha") and meta["split_sha"] != data.split.sha:
            raise UserError(f"{what} {folder} was trained on another data split; use its own --save_dir")
    model = build_model(build["arch"], build["num_classes"], tuple(build["in_shape"]),
                               tuple(build["mean"]), tuple(build["std"]))
    state = load_state(folder / "model.pt", what, hint)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as e:
        raise UserError(f"{what} {folder / 'model.pt'} does not match architecture {build['arch']} "
                        f"({str(e).splitlines()[0]})")
    return model, meta
