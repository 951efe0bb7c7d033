"""Feldman & Zhang's subsampling (heldout) memorization estimator (docs/reference.md).

Model k is trained from scratch on a random subset S_k of D (a fraction --subset_ratio of it),
then its correctness is recorded on every example of D and of the test split. Then

    mem(i)     = mean_{k: i in S_k} correct_k(i) - mean_{k: i not in S_k} correct_k(i)
    infl(i, j) = mean_{k: i in S_k} correct_k(test j) - mean_{k: i not in S_k} correct_k(test j)

`--score logit` replaces correct_k(i) in mem(i) by the model's logit-scaled confidence of the true
class, phi_k(i) = log p_y - log(1 - p_y): the same in-minus-out difference, but continuous, so
examples every model gets right (mem 0 with 0/1 correctness) are still ranked by how much more
sure the models that saw them are. Both scores are written; `score` is the chosen one.

Two ways to train the models, the same algorithm (same subsets, initial weights, batch order,
optimizer and schedule per model; only floating-point summation order differs):
- batched: groups of --models_per_batch models as one stacked module (memorization/stack.py:
  side by side along channels, or vmap over stacked weights);
- sequential: one plain model at a time (--path sequential; always for the large architectures).
Both are driven by `engine.train.Trainer`; --path auto (the default) takes whichever a short timed
calibration on this machine finds faster (memorization/path_choice.py).

Sharding: shard i of n trains the models k = i (mod n) and saves their raw per-model records
(subset membership and correctness, as booleans) to shards/heldout_<i>of<n>.npz; `merge` stacks
all shards and applies the formula above once. Because model k depends on (seed, k) only and a
batched group is always padded to the same size, merging gives exactly the unsharded result. A sharded run keeps a small progress file next to its
partial file (memorization/progress_file.py); `--jobs N` runs the N shards as local processes and
merges them (memorization/jobs.py).
"""
import hashlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

import models
import datasets
from datasets import DataFlags
from datasets.base import to_float
from engine.config import RunFlags
from engine.recipe import OptimFlags
from models import build_args
from engine.device import prepare_model
from engine.errors import Diverged, UserError
from engine.io import read_json, read_npz, sha256_of_indices, write_npz
from engine.record import run_record
from datasets.base import alternating_flip
from engine import recipe
from engine.progress import progress as progress_bar
from engine.train import Trainer
from evaluation.attacks import logit_confidence
from .common import check_positive, load_data, out_dir, write_scores
from .path_choice import SEQUENTIAL_ARCHS, choose_path
from .progress_file import ShardProgress
from .seeds import (check_subset_ratio, draw_subset, init_model, order_generator, resolve_shard,
                    shard_models)
from .stack import make_stack

SCORES = ("logit", "correctness")  # --score; the first is the default
SHARD_NAME = re.compile(r"^heldout_(\d+)of(\d+)\.npz$")


def shard_path(save_dir, shard, num_shards):
    return out_dir(save_dir) / "shards" / f"heldout_{shard}of{num_shards}.npz"


def progress_path(shard_file):
    return shard_file.with_suffix(".progress.json")


def original_arch(save_dir):
    path = Path(save_dir) / "original" / "model.json"
    if not path.is_file():
        return None
    return (read_json(path, "original model description").get("build") or {}).get("arch")


def settings(args, data, arch, batched):
    """Everything that fixes the estimate; shards must agree on it to be merged."""
    group = min(args.models_per_batch, args.num_models) if batched else 1
    return {"dataset": args.dataset, "split_sha": data.split.sha,
            "n_train": len(data.train), "train_sha": sha256_of_indices(data.train.idx.numpy()),
            "arch": arch, "num_models": args.num_models, "subset_ratio": args.subset_ratio,
            "seed": args.seed, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
            "momentum": args.momentum, "weight_decay": args.weight_decay,
            "scheduler": args.scheduler, "decreasing_lr": list(args.decreasing_lr),
            "gamma_lr": args.gamma_lr, "warmup": args.warmup,
            "path": "batched" if batched else "sequential", "models_per_batch": group,
            "stack": args.stack if batched else None,
            "synthetic": datasets.data_options(args) or None,
            **({"recipe": "fast"} if recipe.is_fast(args) else {})}  # absent for default: same fingerprint


def fingerprint(setting):
    return hashlib.sha256(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:20]


# Defaults of `estimate` for data sets without a measured choice: enough SGD steps for small
# models to memorize what they can, few enough models to finish digits-sized sets in minutes on a
# CPU. For CIFAR use RUM's recipe: --num_models 400 --epochs 30 --lr 0.01 --batch_size 512
# --scheduler multistep --decreasing_lr 16,21,26.
@dataclass(frozen=True)
class EstimateConfig(DataFlags, RunFlags, OptimFlags):
    """`estimate`: the heldout models' recipe, how many, on what subsets, and how they are run."""
    num_models: int = 32
    epochs: int = 12
    lr: float = 0.1
    batch_size: int = 32
    decreasing_lr: tuple = ()
    subset_ratio: float = 0.7
    influence: bool = False
    score: str = "logit"
    path: str = "auto"
    jobs: int = 1
    models_per_batch: int = 16
    stack: str = "auto"
    shard: int | None = None
    num_shards: int | None = None


# The learner, number of models and epochs per bundled data set, chosen from measurement
# (scripts/estimator_candidates.py; the table is in docs/results.md, "Choosing the estimator"):
# the cheapest setting whose scores rank well (few ties, strong rank correlation with the original's
# confidence, planted examples found). Flags given on the command line win.
DATASET_DEFAULTS = {
    "digits": {"num_models": 32, "epochs": 6},  # the original's architecture (cnn)
    "synthetic": {"arch": "tinymlp", "num_models": 32, "epochs": 6},
}
PER_DATASET = ("arch", "num_models", "epochs")


def dataset_defaults(dataset):
    """{flag: value} of the per-data-set defaults (num_models and epochs always; arch when the data
    set has a measured learner, else the original model's architecture is used)."""
    return {"num_models": EstimateConfig.num_models, "epochs": EstimateConfig.epochs,
            **DATASET_DEFAULTS.get(dataset, {})}


def estimator_args(**overrides):
    """An EstimateConfig for library use, benchmarks and tests (seed 0 and the data set's defaults
    unless given; the CLI builds its config from flags); --recipe fast's fixed values filled in."""
    defaults = dataset_defaults(overrides.get("dataset", DataFlags.dataset))
    return recipe.resolve(EstimateConfig(**{"seed": 0, **defaults, **overrides}))


# ---- training --------------------------------------------------------------------------------

def train_group(ks, subsets, data, build, args, device, batched, group_size, on_epoch=None):
    """Train the models `ks` (a stack padded to group_size, or one plain model); returns the net.
    on_epoch(n) is called after each epoch with the number of models trained (len(ks)).

    Padding repeats model ks[0]; the copies are discarded. It keeps every stacked computation
    the same shape in every run, so model k's weights do not depend on its companions.
    """
    n_models = len(ks)
    ks = list(ks) + [ks[0]] * (group_size - len(ks)) if batched else list(ks)
    nets = [init_model(lambda: models.build_model(**build), args.seed, k).to(device) for k in ks]
    x_all, y_all = data.train.x, data.train.y
    fast = recipe.is_fast(args)
    flip = fast and bool(data.train.augment.get("flip"))
    if fast:  # --recipe fast: whitening init of each model from its own training subset
        for k, net in zip(ks, nets):
            models.whiten_init(net, to_float(x_all[torch.as_tensor(subsets[k][:recipe.WHITEN_SAMPLE])]).to(device))
    if batched:
        net = make_stack(nets, to_float(x_all[:4]).to(device), args.stack)
    else:
        net = nets[0]
    # the GPU fast paths (channels_last, --compile) for the stack as for one model; none on a CPU
    net = prepare_model(net, device, compile=args.compile)
    subs = torch.as_tensor(np.stack([subsets[k] for k in ks]))  # [M, n_sub] positions in D
    gens = [order_generator(args.seed, k) for k in ks]
    n_sub = subs.shape[1]
    batch = min(args.batch_size, n_sub)
    h = Trainer(net, **recipe.trainer_kwargs(args, math.ceil(n_sub / batch)),
                 desc=f"model {ks[0]}" if len(set(ks)) == 1 else f"models {ks[0]}..{max(ks)}")
    if on_epoch is not None:
        h.on_epoch_end.append(lambda epoch: on_epoch(n_models))
    net.train()
    try:
        for epoch in h.epochs():
            perms = torch.stack([torch.randperm(n_sub, generator=g) for g in gens])
            order = subs.gather(1, perms).to(x_all.device)
            for start in range(0, n_sub, batch):
                pos = order[:, start:start + batch]  # [M, B]: each model its own batch
                x, y = to_float(x_all[pos]), y_all[pos]
                if flip:  # --recipe fast: alternating flip, per model's own batch
                    x = alternating_flip(x.flatten(0, 1), data.train.idx[pos.flatten().cpu()],
                                         epoch).view_as(x)
                with h.autocast():
                    logits = net(x) if batched else net(x[0])[None]
                # sum over models of each model's mean loss: each stacked model gets its own gradient
                loss = (recipe.loss(logits.flatten(0, 1).float(), y.flatten(), args, reduction="sum") if fast
                        else F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), reduction="sum"))
                h.step(loss / pos.shape[1])
        h.check_finite()
    except Diverged as e:
        raise UserError(f"heldout model(s) {sorted(set(ks))} diverged ({e}); lower --lr")
    return net


@torch.no_grad()
def correctness(net, tset, batched, batch_size=1024, tta=False):
    """([M, N] booleans: is each model's top-1 prediction right, [M, N] float16 logit-scaled
    confidence log p_y − log(1 − p_y): the shadow-model statistic of the LiRA attack), eval mode."""
    net.eval()
    hits, phis = [], []
    for x, y in tset.batches(batch_size):
        logits = (net(x, shared=True) if batched else net(x)[None]).float()
        if tta:  # --recipe fast on data sets that flip: average with the mirrored image
            logits = 0.5 * (logits + (net(x.flip(-1), shared=True) if batched else net(x.flip(-1))[None]).float())
        hits.append((logits.argmax(-1) == y[None]).cpu())
        phis.append(logit_confidence(logits, y[None]).clamp(-60000, 60000).half().cpu())
    if not hits:
        return np.zeros((1, 0), dtype=bool), np.zeros((1, 0), dtype=np.float16)
    return torch.cat(hits, dim=1).numpy(), torch.cat(phis, dim=1).numpy()


def resume_records(rec, ks, checkpoint, fp):
    """How many of the models ks a killed run already finished (their rows are copied into rec):
    its partial file must be of the same settings and models, else it is started again."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return 0
    try:
        saved = read_npz(checkpoint, "partial estimate")
        if str(saved["fingerprint"]) != fp or saved["model_ids"].tolist() != list(ks):
            return 0
        done = int(saved["done"])
        for key in rec:
            rec[key][:done] = saved[key][:done]
    except (UserError, KeyError, ValueError):
        return 0  # damaged or of another version: its models are trained again
    return done


def run_models(ks, data, build, args, device, batched, group_size, progress=True, checkpoint=None, fp=None,
               advance=None):
    """Raw per-model records for the models ks: in_subset [K,N], train_correct [K,N],
    test_correct [K,Nt] (all bool), in the order of ks. advance(n) hears of every n model-epochs
    done (a resumed model counts all its epochs)."""
    n = len(data.train)
    subsets = {k: draw_subset(n, args.subset_ratio, args.seed, k) for k in ks}
    rec = {"in_subset": np.zeros((len(ks), n), dtype=bool),
           "train_correct": np.zeros((len(ks), n), dtype=bool),
           "test_correct": np.zeros((len(ks), len(data.test)), dtype=bool),
           "train_phi": np.zeros((len(ks), n), dtype=np.float16),
           "test_phi": np.zeros((len(ks), len(data.test)), dtype=np.float16)}
    step = group_size if batched else 1
    bar = progress_bar(len(ks), "heldout models", "models", progress)
    done = resume_records(rec, ks, checkpoint, fp)  # a time-out or kill costs one group at most
    bar.update(done)
    if advance is not None:
        advance(done * args.epochs)
    for start in range(done, len(ks), step):
        group = ks[start:start + step]
        net = train_group(group, subsets, data, build, args, device, batched, group_size, advance)
        rows = slice(start, start + len(group))
        for r, k in zip(range(start, start + len(group)), group):
            rec["in_subset"][r, subsets[k]] = True
        for part, tset in (("train", data.train), ("test", data.test)):
            hits, phi = correctness(net, tset, batched,
                                    tta=recipe.is_fast(args) and bool(tset.augment.get("flip")))
            rec[f"{part}_correct"][rows], rec[f"{part}_phi"][rows] = hits[:len(group)], phi[:len(group)]
        if checkpoint is not None:
            write_npz(checkpoint, done=np.array(start + len(group)), model_ids=np.asarray(ks, dtype=np.int64),
                      fingerprint=np.array(fp), **rec)
        bar.update(len(group))
    bar.close()
    return rec


# ---- the estimate ----------------------------------------------------------------------------

def in_minus_out(in_subset, values):
    """(mean over in-models - mean over out-models of `values` [K, N], n_in, n_out), float32.
    NaN where an example was never in, or never out of, a subset."""
    in_subset, values = np.asarray(in_subset, bool), np.asarray(values, np.float64)
    n_in = in_subset.sum(0).astype(np.int64)
    n_out = len(in_subset) - n_in
    sum_in = np.where(in_subset, values, 0.0).sum(0)
    sum_out = np.where(in_subset, 0.0, values).sum(0)
    mem = np.where((n_in > 0) & (n_out > 0), sum_in / np.maximum(n_in, 1) - sum_out / np.maximum(n_out, 1),
                   np.nan)
    return mem.astype(np.float32), n_in, n_out


def memorization_scores(in_subset, train_correct):
    """(mem, n_in, n_out) from 0/1 correctness: Feldman & Zhang's estimate."""
    return in_minus_out(in_subset, np.asarray(train_correct, bool))


def all_scores(in_subset, train_correct, train_phi):
    """{score kind: mem} for every kind of `--score`, and (n_in, n_out)."""
    correctness, n_in, n_out = memorization_scores(in_subset, train_correct)
    return {"correctness": correctness, "logit": in_minus_out(in_subset, train_phi)[0]}, (n_in, n_out)


def influence_scores(in_subset, test_correct, n_in, n_out):
    """infl(i, j) as float32 [N, Nt]; the counts are integers < 2^24, exact in float32."""
    member = np.asarray(in_subset, np.float32)
    hits = np.asarray(test_correct, np.float32)
    hit_in = member.T @ hits  # [N, Nt]
    hit_out = hits.sum(0)[None, :] - hit_in
    with np.errstate(invalid="ignore", divide="ignore"):
        hit_in /= n_in[:, None].astype(np.float32)
        hit_out /= n_out[:, None].astype(np.float32)
    hit_in -= hit_out
    bad = (n_in == 0) | (n_out == 0)
    hit_in[bad] = np.nan
    return hit_in


def write_estimate(save_dir, index, test_index, rec, record, influence, score):
    scores, (n_in, n_out) = all_scores(rec["in_subset"], rec["train_correct"], rec["train_phi"])
    mem = scores[score]
    # the per-model records stay: LiRA (evaluation.attacks) uses these models as shadow models, and
    # with train_correct (bit-packed: 1 bit per model and example) the file recomputes both scores
    extra = {"score_kind": np.array(score), **{f"score_{k}": v for k, v in scores.items()},
             "n_in": n_in, "n_out": n_out, "in_subset": rec["in_subset"],
             "train_correct": np.packbits(rec["train_correct"], axis=1), "train_phi": rec["train_phi"],
             "test_phi": rec["test_phi"], "test_index": np.asarray(test_index, dtype=np.int64)}
    if influence:
        extra["influence"] = influence_scores(rec["in_subset"], rec["test_correct"], n_in, n_out)
    test_acc = rec["test_correct"].mean(1) * 100 if rec["test_correct"].size else np.zeros(0)
    record = {**record, "models": int(len(rec["in_subset"])),
              "models_test_accuracy": {"mean": float(test_acc.mean()) if len(test_acc) else None,
                                       "min": float(test_acc.min()) if len(test_acc) else None,
                                       "max": float(test_acc.max()) if len(test_acc) else None},
              "score": score, "summary": {"mean": float(np.nanmean(mem)), "n_nan": int(np.isnan(mem).sum()),
                                          "tied_fraction": tied_fraction(mem),
                          "min_n_in": int(n_in.min()), "min_n_out": int(n_out.min())}}
    return write_scores(out_dir(save_dir) / "heldout.npz", index, mem, +1, record, **extra), mem


def tied_fraction(score):
    """The share of the scored examples that hold the most common value: how much of a ranking by
    this score is ties broken by position."""
    values = np.asarray(score)[np.isfinite(score)]
    if not len(values):
        return None
    return float(np.unique(values, return_counts=True)[1].max() / len(values))


def check_estimate_args(args):
    if args.num_models is None or args.num_models < 2:
        raise UserError(f"--num_models must be at least 2 (some models with and some without each "
                        f"example), got {args.num_models}")
    check_positive(args.epochs, "--epochs", integer=True)
    check_positive(args.models_per_batch, "--models_per_batch", integer=True)
    if not 0 < args.subset_ratio < 1:
        raise UserError(f"--subset_ratio must be in (0, 1), got {args.subset_ratio}")


def check_shard_count(num_shards, num_models):
    if num_shards > num_models:
        raise UserError(f"{num_shards} shards for {num_models} models leaves some shard empty; "
                        "use fewer shards or more --num_models")


class Plan(NamedTuple):
    """What an estimate trains, resolved once (by the run, or by `estimate --jobs` for its shards)."""
    device: torch.device
    data: object
    arch: str
    build: dict
    path_choice: dict  # memorization.path_choice.choose_path's record
    setting: dict
    fp: str

    @property
    def batched(self):
        return self.path_choice["path"] == "batched"


def plan_estimate(args, shard=0, source=None):
    device, data = load_data(args)
    if source == "RANK/WORLD_SIZE" and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", shard)) % torch.cuda.device_count())
    # memorization is relative to a learner: the data set's measured learner (DATASET_DEFAULTS, a
    # cheap one whose scores rank well), else the architecture being unlearned (RUM's estimator used
    # a separate ImageNet-stem ResNet-18, so its scores described another model)
    arch = models.check_arch(args.arch or original_arch(args.save_dir) or data.bundle.default_arch)
    check_subset_ratio(len(data.train), args.subset_ratio)
    build = build_args(arch, data)
    choice = choose_path(args, data, arch, device, build, train_group)
    setting = settings(args, data, arch, choice["path"] == "batched")
    return Plan(device, data, arch, build, choice, setting, fingerprint(setting))


def shard_complete(target, fp):
    """Is the shard file `target` complete, and of these settings? (of other settings: an error)"""
    if not target.is_file():
        return False
    try:
        done = read_npz(target, "shard file")
    except UserError:
        return False  # unreadable: recompute it
    if str(done.get("fingerprint")) == fp:
        return True
    raise UserError(f"shard file {target} was made with other settings; delete it, or rerun "
                    "with the flags it was made with (see its settings)")


def estimate(args, progress=True):
    """The `estimate` command: unsharded -> heldout.npz; sharded -> shards/heldout_<i>of<n>.npz."""
    check_estimate_args(args)
    shard, num_shards, source = resolve_shard(args.shard, args.num_shards)
    check_shard_count(num_shards, args.num_models)
    plan = plan_estimate(args, shard, source)
    data, fp = plan.data, plan.fp
    target = shard_path(args.save_dir, shard, num_shards) if num_shards > 1 else None
    if target is not None and shard_complete(target, fp):
        return {"skipped": True, "path": target, "shard": shard, "num_shards": num_shards}
    ks = shard_models(args.num_models, shard, num_shards)
    start = time.perf_counter()
    partial = (target or out_dir(args.save_dir) / "heldout.npz").with_suffix(".partial.npz")
    tracker = None if target is None else ShardProgress(progress_path(target), len(ks) * args.epochs)
    rec = run_models(ks, data, plan.build, args, plan.device, plan.batched, plan.setting["models_per_batch"],
                     progress, checkpoint=partial, fp=fp, advance=None if tracker is None else tracker.advance)
    wall = time.perf_counter() - start
    record = run_record(args, data.split, arch=plan.arch, device=str(plan.device), settings=plan.setting,
                        fingerprint=fp, path_choice=plan.path_choice,
                        shard={"shard": shard, "num_shards": num_shards, "source": source},
                        wall_time_s=wall, models_per_second=len(ks) / wall if wall > 0 else None)
    if target is not None:
        write_npz(target, model_ids=np.asarray(ks, dtype=np.int64), index=data.train.idx.numpy(),
                  test_index=data.test.idx.numpy(), fingerprint=np.array(fp),
                  record=np.array(json.dumps(record, default=str)), **rec)
        partial.unlink(missing_ok=True)
        tracker.close()
        return {"skipped": False, "path": target, "shard": shard, "num_shards": num_shards,
                "models": len(ks), "wall_time_s": wall}
    path, mem = write_estimate(args.save_dir, data.train.idx.numpy(), data.test.idx.numpy(), rec,
                               {**record, "merged_shards": None}, args.influence, args.score)
    partial.unlink(missing_ok=True)
    return {"skipped": False, "path": path, "models": len(ks), "wall_time_s": wall, "score": mem}


# ---- merge -----------------------------------------------------------------------------------

def find_num_shards(save_dir):
    folder = out_dir(save_dir) / "shards"
    counts = sorted({int(m.group(2)) for p in (folder.iterdir() if folder.is_dir() else [])
                     for m in [SHARD_NAME.match(p.name)] if m})
    if not counts:
        raise UserError(f"no shard files (heldout_<i>of<n>.npz) in {folder}; run python -m memorization "
                        "estimate --shard I --num_shards N first")
    if len(counts) > 1:
        raise UserError(f"{folder} holds shards of runs with {', '.join(map(str, counts))} shards; "
                        "say which with --num_shards")
    return counts[0]


def merge(save_dir, num_shards=None, influence=False, score=None, extra_record=None):
    """Combine all shard files into heldout.npz; refuses an incomplete or mixed set of shards.
    extra_record: more entries for heldout.json (what `estimate --jobs` knows about the run)."""
    if num_shards is None:
        num_shards = find_num_shards(save_dir)
    check_positive(num_shards, "--num_shards", integer=True)
    paths = [shard_path(save_dir, i, num_shards) for i in range(num_shards)]
    missing = [i for i, p in enumerate(paths) if not p.is_file()]
    if missing:
        names = ", ".join(paths[i].name for i in missing)
        raise UserError(f"cannot merge: missing {len(missing)} of {num_shards} shards ({names}) in "
                        f"{paths[0].parent}; run python -m memorization estimate --shard I "
                        f"--num_shards {num_shards} for each (same flags)")
    shards = [read_npz(p, "shard file") for p in paths]
    keys = ("model_ids", "index", "test_index", "fingerprint", "record", "in_subset",
            "train_correct", "test_correct", "train_phi", "test_phi")
    for p, s in zip(paths, shards):
        if any(k not in s for k in keys):
            raise UserError(f"shard file {p} lacks keys {[k for k in keys if k not in s]}; delete and rerun it")
    fps = {str(s["fingerprint"]) for s in shards}
    if len(fps) > 1:
        raise UserError(f"shards in {paths[0].parent} were made with different settings "
                        f"({len(fps)} fingerprints); rerun them with the same flags")
    records = [json.loads(str(s["record"])) for s in shards]
    num_models = records[0]["settings"]["num_models"]
    ids = np.concatenate([s["model_ids"] for s in shards])
    if sorted(ids.tolist()) != list(range(num_models)):
        raise UserError(f"shards in {paths[0].parent} do not cover models 0..{num_models - 1} exactly once")
    if any(not np.array_equal(s["index"], shards[0]["index"]) for s in shards):
        raise UserError("shards disagree on the training set; rerun them on the same --save_dir")
    order = np.argsort(ids, kind="stable")
    rec = {k: np.concatenate([s[k] for s in shards])[order] for k in ("in_subset", "train_correct",
                                                                      "test_correct", "train_phi", "test_phi")}
    record = {**records[0], "shard": None, "wall_time_s": sum(r["wall_time_s"] for r in records),
              "merged_shards": [{"file": p.name, "wall_time_s": r["wall_time_s"], "device": r["device"],
                                 "created": r["created"]} for p, r in zip(paths, records)],
              **(extra_record or {})}
    want_influence = influence or bool(records[0]["config"].get("influence"))
    path, mem = write_estimate(save_dir, shards[0]["index"], shards[0]["test_index"], rec, record,
                               want_influence, score or records[0]["config"].get("score", "correctness"))
    return {"path": path, "models": int(len(ids)), "num_shards": num_shards, "score": mem}

