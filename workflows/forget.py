"""One unlearning run, shared by main_forget.py, main_random.py, generate_mask.py and main_rum.py:
data + original model -> forget set -> cached retrain reference -> method -> evaluation."""
import copy
import hashlib
import json
import time
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import datasets
import models
import unlearn
from datasets import Data
from datasets import forget_sets as fsets
from evaluation import accuracies, svc_mia, tow, tow_mia
from evaluation.attacks import lira_attack, population_loss_attack
from engine import distributed
from engine.cli import int_list
from engine.device import fast_path_plan, prepare_model, resolve_device
from engine.errors import Diverged, UserError
from engine.io import ensure_writable_dir, load_state, read_json, read_npz, write_json
from engine.record import run_record
from engine.seed import seed_everything
from engine.train import check_finite_weights
from models import load_model, save_model


def add_forget_set_args(p):
    g = p.add_argument_group("forget set (one kind; default: random)")
    g.add_argument("--num_indexes_to_replace", type=int, default=None,
                   help="forget-set size (per group for --mem/--group_index)")
    g.add_argument("--class_to_replace", type=int_list, default=None,
                   help="class(es) to forget: all of them, or N of them with --num_indexes_to_replace")
    g.add_argument("--mem", default=None, help="memorization group: high | mid | low | mix")
    g.add_argument("--mem_proxy", default="heldout",
                   help="score behind --mem: heldout, confidence, max_conf, entropy, bi_acc, ho_ret, curvature")
    g.add_argument("--mem_file", default=None,
                   help="score .npz (default <save_dir>/memorization/<mem_proxy>.npz)")
    g.add_argument("--group_index", type=int, default=None,
                   help="entanglement group 0..14 by distance to the centroid (-1: mix of 3/12/14)")
    g.add_argument("--forget_index_file", default=None, help=".json/.npy/.txt of original indices")
    return g


@dataclass
class Context:
    args: Namespace
    device: torch.device
    data: Data
    model: torch.nn.Module   # the model unlearning starts from
    build: dict
    original_config: dict
    shadows: dict = None     # the heldout estimator's per-model records, for LiRA (optional)


def setup(args):
    """Validate flags and inputs, load data and the starting model; writes nothing."""
    device = distributed.init(resolve_device(args.device))  # torchrun: join the data-parallel group
    fast_path_plan(device, args)  # refuses --compile on CPU
    data = datasets.attach(args, datasets.bundle_from(args), device, create_split=False)
    marker = Path(args.save_dir) / "original" / "metrics.json"
    finished = read_json(marker, "original model metrics") if marker.exists() else None
    if finished is not None and finished.get("diverged"):
        raise UserError(f"the original model in {args.save_dir}/original diverged; train it again, e.g. "
                        f"with a smaller --lr: python main_train.py --save_dir {args.save_dir}")
    if finished is None:
        raise UserError(f"the original model in {args.save_dir}/original did not finish training; "
                        f"re-run: python main_train.py --save_dir {args.save_dir} --resume")
    start = Path(args.start_model) if getattr(args, "start_model", None) else Path(args.save_dir) / "original"
    model, meta = load_model(start, data, what="starting model",
                             hint=f"train it first: python main_train.py --dataset {args.dataset} "
                                  f"--save_dir {args.save_dir}")
    original_cfg = finished["config"]
    return Context(args, device, data, prepare_model(model, device, getattr(args, "compile", False)),
                   meta["build"], original_cfg,
                   load_shadows(args.save_dir))


def es_groups(ctx):
    from memorization.entanglement import distance_groups
    original, _ = load_model(Path(ctx.args.save_dir) / "original", ctx.data)
    return distance_groups(prepare_model(original, ctx.device), ctx.data.train, fsets.N_ES_GROUPS)


def score_path(args):
    return Path(args.mem_file) if args.mem_file else Path(args.save_dir) / "memorization" / f"{args.mem_proxy}.npz"


def build_forget_set(ctx):
    args, data = ctx.args, ctx.data
    train_idx = data.split.train_idx
    chosen = [k for k, v in (("--mem", args.mem), ("--group_index", args.group_index),
                             ("--forget_index_file", args.forget_index_file),
                             ("--class_to_replace", args.class_to_replace)) if v is not None]
    if len(chosen) > 1:
        raise UserError(f"choose one kind of forget set, not {' and '.join(chosen)}")
    if args.forget_index_file:
        return fsets.file_set(args.forget_index_file, train_idx)
    if args.mem is not None:
        scores = fsets.load_scores(score_path(args), train_idx)
        return fsets.memorization_set(train_idx, scores, args.mem, args.num_indexes_to_replace,
                                      args.mem_proxy)
    if args.group_index is not None:
        fsets.check_size(args.num_indexes_to_replace, len(train_idx))
        return fsets.es_set(es_groups(ctx), args.group_index, args.num_indexes_to_replace)
    classes = [c for c in (args.class_to_replace or []) if c != -1]
    labels = data.bundle.train_y.numpy()[train_idx]
    if not classes and args.num_indexes_to_replace is None:
        raise UserError("say what to forget: --num_indexes_to_replace N, --class_to_replace C, "
                        "--mem GROUP, --group_index G or --forget_index_file F")
    return fsets.random_set(train_idx, labels, args.num_indexes_to_replace, args.seed, classes)


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
    return {k: z[k].astype(np.float64) if k.endswith("phi") else z[k] for k in keys} \
        if all(k in z for k in keys) else None


def evaluate(model, sets, seed, ctx=None):
    """Accuracies, RUM's SVC attack, the population loss attack and (with shadow models) LiRA."""
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
    def fresh():
        torch.manual_seed(seed)  # the same init for the reference and any retrain run
        return prepare_model(models.build_model(**ctx.build), ctx.device, getattr(ctx.args, "compile", False))
    return fresh


def unlearn_data(ctx, sets, start_model, seed):
    original = copy.deepcopy(start_model).eval()
    for p in original.parameters():
        p.requires_grad_(False)
    return unlearn.UnlearnData(sets["forget"], sets["retain"], sets["val"], sets["test"],
                               ctx.data.num_classes, original, fresh_model_factory(ctx, seed))


# ---- retrain reference -------------------------------------------------------------------------

def reference_settings(ctx, forget_set):
    oc, a = ctx.original_config, ctx.args
    return {"forget_sha256": forget_set.sha256, "split_sha": ctx.data.split.sha,
            "arch": ctx.build["arch"], "seed": a.seed,
            "epochs": a.retrain_epochs if a.retrain_epochs is not None else oc["epochs"],
            "lr": a.retrain_lr if a.retrain_lr is not None else oc["lr"],
            "batch_size": oc["batch_size"], "momentum": oc["momentum"],
            "weight_decay": oc["weight_decay"], "no_aug": oc["no_aug"]}


def reference_dir(ctx, settings):
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(ctx.args.save_dir) / "retrain" / key


def retrain_reference(ctx, forget_set, sets):
    """Train (once) and evaluate the model retrained without the forget set; cached on disk."""
    settings = reference_settings(ctx, forget_set)
    folder = reference_dir(ctx, settings)
    done = folder / "metrics.json"
    if distributed.all_true(done.exists()):  # every rank takes the same branch
        cached = read_json(done, "retrain reference metrics")
        if cached.get("settings") == settings and not cached.get("diverged"):
            return cached, folder
    cfg = Namespace(**{**vars(ctx.args), "unlearn": "retrain", "unlearn_epochs": settings["epochs"],
                       "unlearn_lr": settings["lr"], "batch_size": settings["batch_size"],
                       "momentum": settings["momentum"], "weight_decay": settings["weight_decay"],
                       "warmup": 0, "mask": None})
    ref_sets = dict(sets)
    aug = {"pad": 0, "flip": False} if settings["no_aug"] else dict(ctx.data.bundle.augment)
    ref_sets["retain"] = sets["retain"].with_augment(aug)
    seed_everything(ctx.args.seed)
    start = time.perf_counter()
    model = unlearn.run_method("retrain", None, unlearn_data(ctx, ref_sets, ctx.model, ctx.args.seed), cfg)
    wall = time.perf_counter() - start
    check_finite_weights(model, "retrain reference")
    result = {"settings": settings, "forget_set": forget_set.describe(), "wall_time_s": wall,
              **evaluate(model, sets, ctx.args.seed, ctx)}
    save_model(folder, model, ctx.build, dataset=ctx.args.dataset, split_sha=ctx.data.split.sha,
               seed=ctx.args.seed)
    write_json(done, result)
    return result, folder


# ---- one run -----------------------------------------------------------------------------------

def run_dir(args, method, forget_set):
    name = method + (f"-{args.tag}" if getattr(args, "tag", None) else "")
    return Path(args.save_dir) / "unlearn" / name / forget_set.name / f"s{args.seed}"


def load_mask(path):
    mask = load_state(path, "--mask_path", hint="make one with generate_mask.py")
    if not isinstance(mask, dict) or not all(isinstance(v, torch.Tensor) for v in mask.values()):
        raise UserError(f"--mask_path {path} is not a mask (a dict of parameter name -> tensor)")
    return mask


def compare(result, reference):
    if result.get("diverged"):
        return {"tow": None, "tow_mia": None}
    return {"tow": tow(result["accuracy"], reference["accuracy"]),
            "tow_mia": tow_mia(result["accuracy"], result["mia"], reference["accuracy"], reference["mia"])}


def run_unlearning(args):
    """The whole of main_forget.py: returns (metrics, path of metrics.json)."""
    method = unlearn.canonical(args.unlearn)
    ctx = setup(args)
    forget_set = build_forget_set(ctx)
    args.mask = load_mask(args.mask_path) if getattr(args, "mask_path", None) else None
    out = run_dir(args, method, forget_set)
    if getattr(args, "skip_existing", False) and (out / "metrics.json").exists():
        return None, out / "metrics.json"
    from unlearn import addons  # capstone add-ons (unlearn/addons.py): check flags, load SimCLR/generators
    extras = addons.prepare(args, ctx, method, forget_set)
    ensure_writable_dir(args.save_dir)
    fsets.save_forget_set(args.save_dir, forget_set, ctx.data.split.sha)
    sets = eval_sets(ctx.data, forget_set)
    if len(sets["retain"]) == 0:
        raise UserError("the forget set is the whole training set: nothing would be left to retain")
    reference, ref_dir = retrain_reference(ctx, forget_set, sets)
    seed_everything(args.seed)
    model = ctx.model
    start = time.perf_counter()
    diverged = None
    try:
        method_data, cfg = extras.apply(unlearn_data(ctx, sets, ctx.model, args.seed), args)  # capstone add-ons
        model = unlearn.run_method(method, model, method_data, cfg)
        check_finite_weights(model, method)
    except Diverged as e:
        diverged = str(e)
    wall = time.perf_counter() - start
    result = {"diverged": diverged, **({"accuracy": {}, "mia": {}} if diverged else
                                       evaluate(model, sets, args.seed, ctx))}
    config = {k: v for k, v in vars(args).items() if k != "mask"}
    metrics = {**run_record(Namespace(**config), ctx.data.split), "method": method,
               "forget_set": forget_set.describe(), **result,
               "reference": {"path": str(ref_dir), "accuracy": reference["accuracy"],
                             "mia": reference["mia"], "attacks": reference.get("attacks"),
                             "wall_time_s": reference["wall_time_s"]},
               **compare(result, reference), "wall_time_s": wall,
               "rte": wall / reference["wall_time_s"] if reference["wall_time_s"] else None}
    metrics.update(extras.finish(args, result, model, sets, out))  # capstone extras: geo_metric, t-SNE
    if getattr(args, "save_model", False) and not diverged:
        save_model(out, model, ctx.build, dataset=args.dataset, split_sha=ctx.data.split.sha, seed=args.seed)
    write_json(out / "metrics.json", metrics)
    return metrics, out / "metrics.json"


def unlearning_parser(doc):
    """The flags every unlearning entry script shares: data, run, method options, forget set and
    the run flags below (main_forget.py and main_rum.py add their own on top)."""
    from unlearn.options import add_method_args
    from engine.cli import add_data_args, add_run_args, parser
    p = parser(doc)
    add_data_args(p)
    add_run_args(p)
    add_method_args(p)
    add_forget_set_args(p)
    add_run_flags(p)
    return p


def add_run_flags(p):
    g = p.add_argument_group("unlearning run")
    g.add_argument("--start_model", default=None,
                   help="checkpoint folder to unlearn from (default <save_dir>/original)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight_decay", type=float, default=5e-4)
    g.add_argument("--warmup", type=int, default=0, help="linear warm-up epochs at --unlearn_lr")
    g.add_argument("--retrain_epochs", type=int, default=None,
                   help="epochs of the retrain reference (default: the original model's)")
    g.add_argument("--retrain_lr", type=float, default=None,
                   help="LR of the retrain reference (default: the original model's)")
    g.add_argument("--save_model", action="store_true", help="keep the unlearned weights")
    g.add_argument("--tag", default=None, help="suffix of the method folder, to keep variants apart")
    g.add_argument("--skip_existing", action="store_true",
                   help="do nothing if this run's metrics.json exists (sweeps resume this way)")
    return g


def summary_line(metrics):
    if metrics.get("diverged"):
        return f"{metrics['method']}: DIVERGED ({metrics['diverged']})"
    a, r = metrics["accuracy"], metrics["reference"]["accuracy"]
    return (f"{metrics['method']:>12} on {metrics['forget_set']['name']}: "
            f"forget {a['forget']:6.2f}% (ref {r['forget']:6.2f})  retain {a['retain']:6.2f}% "
            f"(ref {r['retain']:6.2f})  test {a['test']:6.2f}% (ref {r['test']:6.2f})  "
            f"MIA {metrics['mia']['confidence']:.3f}  ToW {metrics['tow']:.4f}  "
            f"ToW-MIA {metrics['tow_mia']:.4f}  {metrics['wall_time_s']:.1f}s (RTE {metrics['rte']:.2f})")
