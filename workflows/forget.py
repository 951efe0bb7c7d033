"""One unlearning run, shared by main_forget.py, main_random.py, generate_mask.py and main_rum.py:
data + original model -> forget set -> cached retrain reference -> method -> evaluation.

    run = prepare_run(cfg, label)      # everything before the method; None when --skip_existing
    ... the method (or RUM's steps) on run.sets, from run.ctx.model ...
    metrics = record_run(run, model, result, wall_time, **extra)   # metrics.json, written once
"""
import contextlib
import copy
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import datasets
import models
import unlearn
from datasets import Data
from datasets import forget_sets as fsets
from engine import distributed
from engine.config import record
from engine.device import fast_path_plan, prepare_model, select
from engine.errors import Diverged, UserError
from engine.io import (ensure_writable_dir, file_sha256, load_state, locked, read_json, read_npz, recover_folder,
                       safe_component, write_json)
from engine.record import run_record
from engine.seed import seed_everything, seeded_init
from engine.train import check_finite_weights
from evaluation import accuracies, svc_mia, tow, tow_mia
from evaluation.accuracy import shared_logits
from evaluation.attacks import lira_attack, population_loss_attack
from models import load_model, model_sha256, save_model


@dataclass
class Context:
    """What a run has loaded (the config itself is frozen and holds none of this)."""
    cfg: object
    device: torch.device
    data: Data
    model: torch.nn.Module   # the model unlearning starts from
    build: dict
    original_config: dict
    model_sha256: str        # checksums of the starting model and of <save_dir>/original's: what
    original_sha256: str     # the run's outputs record, so outputs of a replaced model are refused
    shadows: dict = None     # the heldout estimator's per-model records, for LiRA (optional)


def setup(cfg):
    """Validate inputs, load data and the starting model; writes nothing."""
    device = distributed.init(select(cfg))  # torchrun: join the data-parallel group
    fast_path_plan(device, cfg.compile)  # refuses --compile on CPU
    data = datasets.attach(cfg, datasets.bundle_from(cfg), device, create_split=False)
    marker = recover_folder(Path(cfg.save_dir) / "original", "metrics.json") / "metrics.json"
    finished = read_json(marker, "original model metrics", schema={"config": dict, "diverged": (str, type(None))}) \
        if marker.exists() else None
    if finished is not None and finished.get("diverged"):
        raise UserError(f"the original model in {cfg.save_dir}/original diverged; train it again, e.g. "
                        f"with a smaller --lr: python main_train.py --save_dir {cfg.save_dir}")
    if finished is None:
        raise UserError(f"the original model in {cfg.save_dir}/original did not finish training; "
                        f"re-run: python main_train.py --save_dir {cfg.save_dir} --resume")
    start = Path(cfg.start_model) if cfg.start_model else Path(cfg.save_dir) / "original"
    model, meta = load_model(start, data, what="starting model",
                             hint=f"train it first: python main_train.py --dataset {cfg.dataset} "
                                  f"--save_dir {cfg.save_dir}")
    return Context(cfg, device, data, prepare_model(model, device, cfg.compile), meta["build"],
                   finished["config"], meta["sha256"], model_sha256(Path(cfg.save_dir) / "original"),
                   load_shadows(cfg.save_dir))


def es_groups(ctx):
    from memorization.entanglement import distance_groups
    original, _ = load_model(Path(ctx.cfg.save_dir) / "original", ctx.data)
    return distance_groups(prepare_model(original, ctx.device), ctx.data.train, fsets.N_ES_GROUPS)


def score_path(cfg):
    if cfg.mem_file:
        return Path(cfg.mem_file)
    return Path(cfg.save_dir) / "memorization" / f"{safe_component(cfg.mem_proxy, '--mem_proxy')}.npz"


def warn_ties(what, ties):
    """One line on stderr when tied scores, not the scores, decided some of a group's examples."""
    if ties and distributed.is_main():
        print(f"warning: {what}: the scores cannot separate the groups ({'; '.join(ties)}); within a tie "
              "the training-set order decides", file=sys.stderr)


def build_forget_set(ctx):
    cfg, data = ctx.cfg, ctx.data
    train_idx = data.split.train_idx
    chosen = [k for k, v in (("--mem", cfg.mem), ("--group_index", cfg.group_index),
                             ("--forget_index_file", cfg.forget_index_file),
                             ("--class_to_replace", cfg.class_to_replace)) if v is not None]
    if len(chosen) > 1:
        raise UserError(f"choose one kind of forget set, not {' and '.join(chosen)}")
    if cfg.forget_index_file:
        return fsets.file_set(cfg.forget_index_file, train_idx)
    if cfg.mem is not None:
        scores = fsets.load_scores(score_path(cfg), train_idx, ctx.original_sha256)
        fs = fsets.memorization_set(train_idx, scores, cfg.mem, cfg.num_indexes_to_replace, cfg.mem_proxy,
                                    cfg.allow_overlap, fsets.natural_middle(score_path(cfg)))
        warn_ties(f"--mem {cfg.mem}", fs.params.get("ties"))
        return fs
    if cfg.group_index is not None:
        fsets.check_size(cfg.num_indexes_to_replace, len(train_idx))
        return fsets.es_set(es_groups(ctx), cfg.group_index, cfg.num_indexes_to_replace)
    classes = [c for c in (cfg.class_to_replace or []) if c != -1]
    labels = data.bundle.train_y.numpy()[train_idx]
    if not classes and cfg.num_indexes_to_replace is None:
        raise UserError("say what to forget: --num_indexes_to_replace N, --class_to_replace C, "
                        "--mem GROUP, --group_index G or --forget_index_file F")
    return fsets.random_set(train_idx, labels, cfg.num_indexes_to_replace, cfg.seed, classes)


def eval_sets(data, forget_set):
    """forget / retain / val / test; class-wise forgetting also drops those classes from test."""
    # views: forget and retain share data.train's images (no copy of the data set)
    forget = data.train.select(forget_set.indices, view=True)
    keep = ~np.isin(data.train.idx.numpy(), forget_set.indices)
    sets = {"forget": forget, "retain": data.train.view(np.flatnonzero(keep)), "val": data.val,
            "test": data.test}
    classes = forget_set.params.get("classes") if forget_set.kind == "class" and \
        "n" not in forget_set.params else None
    if classes:
        in_class = np.isin(data.test.y.cpu().numpy(), classes)
        sets["test"] = data.test.subset(np.flatnonzero(~in_class))
        sets["test_forgotten_classes"] = data.test.subset(np.flatnonzero(in_class))
    return sets


def load_shadows(save_dir):
    """The heldout estimate's shadow models (per-model membership and logit confidences), if made."""
    path = Path(save_dir) / "memorization" / "heldout.npz"
    if not path.exists():
        return None
    z = read_npz(path, "memorization estimate")
    keys = ("index", "in_subset", "train_phi", "test_phi")
    if not all(k in z for k in keys):
        return None
    n, models = z["index"].shape[0], z["in_subset"].shape[0]
    if z["index"].ndim != 1 or z["in_subset"].shape != (models, n) or z["train_phi"].shape != (models, n) \
            or z["test_phi"].ndim != 2 or z["test_phi"].shape[0] != models:
        raise UserError(f"memorization estimate {path} is damaged (its per-model arrays do not fit its index); "
                        "merge or estimate it again")
    return {k: z[k].astype(np.float64) if k.endswith("phi") else z[k] for k in keys}


def evaluate(model, sets, seed, ctx=None):
    """Accuracies, RUM's SVC attack, the population loss attack and (with shadow models) LiRA,
    each set predicted once."""
    with shared_logits():
        return _evaluate(model, sets, seed, ctx)


def _evaluate(model, sets, seed, ctx):
    acc = accuracies(model, sets)
    mia = svc_mia(model, sets["retain"], sets["forget"], sets["test"], seed=seed)
    out = {"accuracy": acc, "mia": mia}
    if ctx is not None:
        heldout = ctx.data.test  # the full test split: the shadows were scored on it
        out["attacks"] = {"population_loss": population_loss_attack(model, sets["forget"], heldout, seed)}
        if ctx.shadows is not None:
            out["attacks"]["lira"] = lira_attack(model, sets["forget"], heldout, ctx.shadows)
    return out


def fresh_model_factory(ctx, seed):
    """New models with the initial weights of `seed` (the same for the reference and any retrain
    run), built without disturbing the run's random streams."""
    def fresh():
        model = seeded_init(lambda: models.build_model(**ctx.build), seed)
        return prepare_model(model, ctx.device, ctx.cfg.compile)
    return fresh


def unlearn_data(ctx, sets, start_model, seed, mask=None):
    original = copy.deepcopy(start_model).eval()
    for p in original.parameters():
        p.requires_grad_(False)
    return unlearn.UnlearnData(sets["forget"], sets["retain"], sets["val"], sets["test"],
                               ctx.data.num_classes, original, fresh_model_factory(ctx, seed), mask=mask)


# ---- retrain reference -------------------------------------------------------------------------

def reference_settings(ctx, forget_sha256):
    oc, cfg = ctx.original_config, ctx.cfg
    return {"forget_sha256": forget_sha256, "split_sha": ctx.data.split.sha,
            "arch": ctx.build["arch"], "seed": cfg.seed,
            "epochs": cfg.retrain_epochs if cfg.retrain_epochs is not None else oc["epochs"],
            "lr": cfg.retrain_lr if cfg.retrain_lr is not None else oc["lr"],
            "batch_size": oc["batch_size"], "momentum": oc["momentum"],
            "weight_decay": oc["weight_decay"], "no_aug": oc["no_aug"]}


def reference_dir(ctx, settings):
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(ctx.cfg.save_dir) / "retrain" / key


def retrain_reference(ctx, forget_set, sets):
    """Train (once) and evaluate the model retrained without the forget set; cached on disk."""
    settings = reference_settings(ctx, forget_set.sha256)
    folder = reference_dir(ctx, settings)
    # two runs on the same new forget set: one trains the reference, the other waits and reuses it
    with locked(Path(ctx.cfg.save_dir) / ".locks" / f"retrain-{folder.name}", "the retrain reference") \
            if distributed.is_main() \
            else contextlib.nullcontext():
        cached = cached_reference(folder, settings)
        if cached is not None:
            return cached, folder
        return train_reference(ctx, forget_set, sets, settings, folder), folder


def cached_reference(folder, settings):
    done = folder / "metrics.json"
    if distributed.all_true(done.exists()):  # every rank takes the same branch
        cached = read_json(done, "retrain reference metrics", schema={"settings": dict, "accuracy": dict,
                                                                       "mia": dict, "wall_time_s": (int, float)})
        if cached["settings"] == settings and not cached.get("diverged"):
            return cached
    return None


def train_reference(ctx, forget_set, sets, settings, folder):
    method = unlearn.resolve("retrain", unlearn_epochs=settings["epochs"], unlearn_lr=settings["lr"],
                             batch_size=settings["batch_size"], momentum=settings["momentum"],
                             weight_decay=settings["weight_decay"], warmup=0, seed=ctx.cfg.seed)
    ref_sets = dict(sets)
    aug = {"pad": 0, "flip": False} if settings["no_aug"] else dict(ctx.data.bundle.augment)
    ref_sets["retain"] = sets["retain"].with_augment(aug)
    start = time.perf_counter()
    try:
        model = unlearn.run_method("retrain", None, unlearn_data(ctx, ref_sets, ctx.model, ctx.cfg.seed), method)
        check_finite_weights(model, "retrain reference")
    except Diverged as e:
        raise UserError(f"the retrain reference diverged ({e}); lower --retrain_lr")
    wall = time.perf_counter() - start
    result = {"settings": settings, "forget_set": forget_set.describe(), "wall_time_s": wall,
              **evaluate(model, sets, ctx.cfg.seed, ctx)}
    save_model(folder, model, ctx.build, dataset=ctx.cfg.dataset, split_sha=ctx.data.split.sha,
               seed=ctx.cfg.seed)
    write_json(folder / "metrics.json", result)
    return result


# ---- one run -----------------------------------------------------------------------------------

# flags that do not change a run's result (where it writes, how fast, which figures), and flags
# that stand for files whose checksums run_identity records instead (a path says nothing of content)
NOT_IDENTITY = {"save_dir", "seed", "device", "threads", "compile", "skip_existing", "save_model", "tag", "tsne",
                "cka", "confusion", "data", "download", "num_indexes_to_replace", "class_to_replace", "mem",
                "mem_proxy", "mem_file", "allow_overlap", "group_index", "forget_index_file", "start_model",
                "mask_path", "simclr_path", "generator_path", "retrain_epochs", "retrain_lr"}


def run_identity(cfg, ctx, forget_key, mask_path, extras):
    """Everything that changes a run's result, hashed: its settings, its forget set (`forget_key`:
    the set's sha256, or how a run that chooses its sets as it goes chooses them), the checksums of
    the model it starts from, its mask and add-on models, and the reference's recipe (not the seed:
    the seeds of one setting sit side by side under one identity)."""
    reference = {k: v for k, v in reference_settings(ctx, None).items() if k not in ("seed", "forget_sha256")}
    identity = {"flags": {k: v for k, v in record(cfg).items() if k not in NOT_IDENTITY},
                "forget_set": forget_key,
                "start_model": ctx.model_sha256, "mask": file_sha256(mask_path) if mask_path else None,
                "addons": extras.inputs() if extras else None, "reference": reference}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_dir(cfg, label, forget_name, identity):
    """<save_dir>/unlearn/<label>[-<tag>]-<identity>/<forget set>/s<seed>: runs that differ in
    anything but the seed never share a folder, and --tag is a readable prefix of the identity."""
    name = "-".join([label, *([safe_component(cfg.tag, "--tag")] if cfg.tag else []), identity])
    return Path(cfg.save_dir) / "unlearn" / name / forget_name / f"s{cfg.seed}"


RUM_MASK_PREFIX = re.compile(r"(hard|mask)_(\d+(?:\.\d+)?)")
DEFAULT_MASK_RATIO = 0.5  # SalUn's


def mask_file(path, ratio):
    """The file --mask_path (RUM: --path) names: a mask file; the folder generate_mask.py --save
    wrote (its mask_<ratio>.pt, ratio --salun_ratio); or RUM's prefix form <folder>/hard_<ratio>."""
    path = Path(path)
    if path.is_file():
        return path
    folder, ratio = (path, ratio or DEFAULT_MASK_RATIO) if path.is_dir() else (path.parent, None)
    if ratio is None:
        prefix = RUM_MASK_PREFIX.fullmatch(path.name)
        if not prefix or not folder.is_dir():
            raise UserError(f"--mask_path {path} is neither a mask file, a mask folder nor a <folder>/hard_<ratio> "
                            "prefix; make masks with generate_mask.py --save <folder>")
        ratio = float(prefix.group(2))
    found = folder / f"mask_{float(ratio)}.pt"
    if not found.is_file():
        have = sorted(p.name for p in folder.glob("mask_*.pt")) or ["none"]
        raise UserError(f"--mask_path {path}: no mask of ratio {float(ratio)} in {folder} (it has {', '.join(have)})")
    return found


def load_mask(path, model, forget_set, model_sha=None):
    """A 0/1 mask over the model's weights; one made for another forget set (its masks.json says)
    or another model is refused, and so is one whose bytes differ from what masks.json recorded."""
    path = Path(path)
    made_for = path.parent / "masks.json"
    meta = read_json(made_for, "mask description", schema={"forget_set": dict, "sha256": dict}) \
        if made_for.is_file() else None
    if meta is not None and meta["forget_set"].get("sha256") != forget_set.sha256:
        raise UserError(f"--mask_path {path} was made for forget set {meta['forget_set'].get('name')}, "
                        f"not {forget_set.name}")
    if meta is not None and meta.get("model_sha256") not in (None, model_sha):
        raise UserError(f"--mask_path {path} was made from another model than the one being unlearned "
                        "(was the original trained again?); make it again with generate_mask.py")
    mask = load_state(path, "--mask_path", hint="make one with generate_mask.py",
                      sha256=meta["sha256"].get(path.name) if meta else None)
    if not isinstance(mask, dict) or not all(isinstance(v, torch.Tensor) for v in mask.values()):
        raise UserError(f"--mask_path {path} is not a mask (a dict of parameter name -> tensor)")
    params = dict(model.named_parameters())
    wrong = [n for n, m in mask.items() if n not in params or m.shape != params[n].shape]
    if wrong or not mask:
        raise UserError(f"--mask_path {path} does not fit the model being unlearned (e.g. {(wrong or ['no weights'])[0]}); "
                        "make it with generate_mask.py from this run folder")
    if any(((m != 0) & (m != 1)).any() for m in mask.values()):
        raise UserError(f"--mask_path {path} is not a 0/1 mask (a checkpoint?); make one with generate_mask.py")
    return mask


def compare(result, reference):
    if result.get("diverged"):
        return {"tow": None, "tow_mia": None}
    return {"tow": tow(result["accuracy"], reference["accuracy"]),
            "tow_mia": tow_mia(result["accuracy"], result["mia"], reference["accuracy"], reference["mia"])}


@dataclass
class Run:
    """A prepared run: loaded inputs, its forget set and evaluation sets, the reference."""
    ctx: Context
    label: str
    forget_set: object
    sets: dict
    path: Path                        # <run folder>/metrics.json
    reference: dict = None
    reference_dir: Path = None
    mask: dict = None
    extras: object = None             # capstone add-ons (unlearn/addons.py)
    checked: object = None            # what the caller's `check` returned (RUM: its steps)
    started: float = field(default_factory=time.perf_counter)


def prepare_run(cfg, label, method=None, check=None):
    """Everything before the method: inputs validated and loaded, the forget set chosen and saved,
    the reference trained or reused. Returns (Run, path); Run is None when --skip_existing finds
    the run done. `method` (an unlearn.Method) gets the capstone add-ons checked and loaded;
    `check(ctx, forget_set)` runs before anything is written (its result is `Run.checked`)."""
    ctx = setup(cfg)
    forget_set = build_forget_set(ctx)
    checked = check(ctx, forget_set) if check else None
    mask_path = mask_file(cfg.method.mask_path, cfg.method.salun_ratio) if cfg.method.mask_path else None
    mask = load_mask(mask_path, ctx.model, forget_set, ctx.model_sha256) if mask_path else None
    extras = None
    if method is not None:
        from unlearn import addons  # checks the add-on flags, loads SimCLR / generators
        extras = addons.prepare(cfg, ctx, method, forget_set)
    identity = run_identity(cfg, ctx, forget_set.sha256, mask_path, extras)
    path = run_dir(cfg, label, forget_set.name, identity) / "metrics.json"
    if cfg.skip_existing and done_before(path, ctx):
        return None, path
    sets = eval_sets(ctx.data, forget_set)
    if len(sets["retain"]) == 0:
        raise UserError("the forget set is the whole training set: nothing would be left to retain")
    ensure_writable_dir(cfg.save_dir)
    fsets.save_forget_set(cfg.save_dir, forget_set, ctx.data.split.sha)
    run = Run(ctx, label, forget_set, sets, path, mask=mask, extras=extras, checked=checked)
    run.reference, run.reference_dir = retrain_reference(ctx, forget_set, sets)
    seed_everything(cfg.seed)
    run.started = time.perf_counter()
    return run, path


def done_before(path, ctx):
    """--skip_existing: this run's metrics.json exists and was made from the same original model."""
    if not path.exists():
        return False
    return read_json(path, "run metrics").get("original_sha256") == ctx.original_sha256


def outcome(model, run, diverged):
    """{diverged, accuracy, mia, attacks} of the final model (empty figures when diverged)."""
    if diverged:
        return {"diverged": diverged, "accuracy": {}, "mia": {}}
    return {"diverged": None, **evaluate(model, run.sets, run.ctx.cfg.seed, run.ctx)}


def record_run(run, result, wall, **extra):
    """metrics.json of a finished run: config, seed, versions, split, forget set, the result,
    the reference's figures, ToW / ToW-MIA against it and the time ratio to it (RTE)."""
    reference = run.reference
    metrics = {**run_record(record(run.ctx.cfg), run.ctx.data.split), "method": run.label,
               "arch": run.ctx.build["arch"], "forget_set": run.forget_set.describe(),
               "original_sha256": run.ctx.original_sha256,
               "start_model_sha256": run.ctx.model_sha256, **extra, **result,
               "reference": {"path": str(run.reference_dir), "accuracy": reference["accuracy"],
                             "mia": reference["mia"], "attacks": reference.get("attacks"),
                             "wall_time_s": reference["wall_time_s"]},
               **compare(result, reference), "wall_time_s": wall,
               "rte": wall / reference["wall_time_s"] if reference["wall_time_s"] else None}
    return metrics


def figures(cfg, run, original, model, result):
    """The capstone's evaluation extras: the geo metric, and the figures asked for (t-SNE, CKA of
    the unlearned model and of the reference against the original, the test confusion matrix),
    written next to metrics.json; {name: value or file} for metrics.json."""
    from evaluation.capstone import geo_metric_of_run, tsne_plot
    from evaluation.cka import cka_matrix, write_cka_png
    from evaluation.confusion import confusion_matrix, write_confusion_png
    out, forget = run.path.parent, run.sets["forget"]
    extra = geo_metric_of_run(cfg.save_dir, result)
    if result["diverged"]:
        return extra
    if cfg.tsne:
        extra["tsne"] = str(tsne_plot(original, model, run.sets, out / "tsne.png", seed=cfg.seed))
    if cfg.cka:
        reference, _ = load_model(run.reference_dir, run.ctx.data, what="retrain reference")
        reference = prepare_model(reference, run.ctx.device)
        for name, label, net in (("cka.png", run.label, model), ("cka_retrain.png", "retrain", reference)):
            extra.setdefault("cka", []).append(
                str(write_cka_png(cka_matrix(net, original, forget), out / name, label_a=label, label_b="original")))
    if cfg.confusion:
        extra["confusion"] = str(write_confusion_png(confusion_matrix(model, run.sets["test"]),
                                                     out / "confusion.png", title=f"{run.label}: test confusion"))
    return extra


def run_unlearning(cfg):
    """The whole of main_forget.py: returns (metrics, path of metrics.json); metrics is None when
    --skip_existing found the run done."""
    method = unlearn.get_method(cfg.method.unlearn)
    run, path = prepare_run(cfg, method.name, method)
    if run is None:
        return None, path
    ctx = run.ctx
    model, diverged = ctx.model, None
    data = unlearn_data(ctx, run.sets, ctx.model, cfg.seed, run.mask)
    try:
        data = run.extras.apply(data, cfg)
        model = unlearn.run_method(method.name, model, data, cfg.method)
        check_finite_weights(model, method.name)
    except Diverged as e:
        diverged = str(e)
    wall = time.perf_counter() - run.started
    result = outcome(model, run, diverged)
    metrics = record_run(run, result, wall, **run.extras.record())
    metrics.update(figures(cfg, run, data.original, model, result))
    if cfg.save_model and not diverged:
        save_model(path.parent, model, ctx.build, dataset=cfg.dataset, split_sha=ctx.data.split.sha,
                   seed=cfg.seed)
    write_json(path, metrics)
    return metrics, path


def summary_line(metrics):
    if metrics.get("diverged"):
        return f"{metrics['method']}: DIVERGED ({metrics['diverged']})"
    a, r = metrics["accuracy"], metrics["reference"]["accuracy"]
    return (f"{metrics['method']:>12} on {metrics['forget_set']['name']}: "
            f"forget {a['forget']:6.2f}% (ref {r['forget']:6.2f})  retain {a['retain']:6.2f}% "
            f"(ref {r['retain']:6.2f})  test {a['test']:6.2f}% (ref {r['test']:6.2f})  "
            f"MIA {metrics['mia']['confidence']:.3f} (ref {metrics['reference']['mia']['confidence']:.3f})  "
            f"ToW {metrics['tow']:.4f}  "
            f"ToW-MIA {metrics['tow_mia']:.4f}  {metrics['wall_time_s']:.1f}s (RTE {metrics['rte']:.2f})")
