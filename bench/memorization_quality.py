"""Benchmark: seconds until the memorization estimate is good enough, side by side in one process.

Two estimators train heldout models in the same process, taking turns (a model of (a), a group
of (b), ...: a change in the machine's load hits both alike), and after every model (a) or every
group (b) their scores so far are checked against a quality target:

  (a) RUM-style: the original model's architecture and recipe (main_train's epochs, batch size
      and schedule), one model at a time, 0/1 correctness;
  (b) ours: `python -m memorization estimate` with its defaults for the data set (learner,
      epochs, number of models per group, score), batched.

Quality: on the synthetic set, the ROC-AUC of the score for the planted rare / mislabeled
examples (target 0.9); on digits, which plants nothing, the Spearman correlation with a long
reference estimate (target 0.8), made once and cached in bench/results/. The reference is the
estimate of the original's architecture itself (the estimator's plain recipe, 64 models, seed 0;
both estimators use seed 1, so they share no model with it) with the score that separates its ties
(logit).

The headline is time(a) / time(b). When (a) misses the target within its budget, the ratio is a
lower bound (budget / time(b)) and says so.

    python -m bench --only memorization_quality
    python -m bench.memorization_quality --dataset synthetic --budget 300
"""
import argparse
import time
from dataclasses import replace
from pathlib import Path
import tempfile

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

import datasets
from engine.recipe import OptimFlags
from memorization.heldout import EstimateConfig, all_scores, estimator_args, run_models
from memorization.report import planted_examples
from models import build_args
from workflows.config import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_SEED, SEED = 0, 1
TARGETS = {"synthetic": ("auc_planted", 0.9), "digits": ("spearman_reference", 0.8)}


def rum_style(dataset, arch):
    """The original model's architecture and recipe, one model at a time, 0/1 correctness."""
    return estimator_args(dataset=dataset, arch=arch, epochs=OptimFlags.epochs, lr=OptimFlags.lr,
                          batch_size=TrainConfig.batch_size, scheduler=OptimFlags.scheduler,
                          decreasing_lr=(), path="sequential", score="correctness", seed=SEED)


def ours(dataset, arch):
    """`estimate`'s defaults for the data set (its measured learner, else the original's)."""
    args = estimator_args(dataset=dataset, seed=SEED)
    return args if args.arch else replace(args, arch=arch)


def load(dataset, folder):
    bundle = datasets.load_bundle(dataset)
    return datasets.prepare_data(bundle, folder, "cpu", create_split=True)


def quality(dataset, data, rec, kind, reference):
    """The target measure of the scores of the models in `rec`."""
    score = all_scores(rec["in_subset"], rec["train_correct"], rec["train_phi"])[0][kind]
    score = np.nan_to_num(score.astype(np.float64), nan=-1e9)  # never out or in: least memorized
    if dataset == "synthetic":
        return float(roc_auc_score(planted_examples(data.bundle.extras, data.train.idx.numpy()), score))
    return float(stats.spearmanr(score, reference).statistic)


def stacked(recs):
    return {k: np.concatenate([r[k] for r in recs]) for k in recs[0]}


class Estimator:
    """One estimator trained a group of models at a time; `step()` trains the next group and
    checks the scores so far. `done` once they reach the target, `budget_s` or `max_models`."""

    def __init__(self, dataset, data, args, group, reference, target, budget_s, max_models):
        self.dataset, self.data, self.args, self.group = dataset, data, args, group
        self.reference, self.target, self.budget_s, self.max_models = reference, target, budget_s, max_models
        self.build = build_args(args.arch, data)
        self.recs, self.trace, self.spent, self.reached, self.done = [], [], 0.0, None, False

    def step(self):
        start = sum(len(r["in_subset"]) for r in self.recs)
        ks = list(range(start, min(start + self.group, self.max_models)))
        t0 = time.perf_counter()
        sequential = self.args.path == "sequential"  # "ours" (path auto) is measured batched
        self.recs.append(run_models(ks, self.data, self.build, self.args, torch.device("cpu"),
                                    not sequential, 1 if sequential else self.group, progress=False))
        self.spent += time.perf_counter() - t0  # the quality check below is not the estimator's cost
        models = start + len(ks)
        if models >= 2:
            q = quality(self.dataset, self.data, stacked(self.recs), self.args.score, self.reference)
            self.trace.append((models, round(self.spent, 2), round(q, 4)))
            if q >= self.target:
                self.reached = self.spent
        self.done = self.reached is not None or self.spent >= self.budget_s or models >= self.max_models


def side_by_side_until_target(estimators):
    """Step the estimators in turn, so a change in the machine's load hits all of them alike,
    until each is done."""
    while not all(e.done for e in estimators):
        for e in estimators:
            if not e.done:
                e.step()


def reference_args(dataset, arch, models):
    """The digits reference: the original's architecture with the estimator's plain recipe, many
    models, the logit score (continuous, so a rank correlation with it means something). Seed 0;
    the two estimators run with seed 1, so no model of theirs is one of the reference's."""
    return estimator_args(dataset=dataset, arch=arch, epochs=EstimateConfig.epochs, num_models=models,
                          score="logit", seed=REFERENCE_SEED)


def reference_of(dataset, data, arch, models):
    """The cached long reference estimate, aligned with data.train (bench/results/; delete the
    file to make it again)."""
    path = RESULTS / f"memorization_reference_{dataset}_{arch}_{models}.npz"
    index = data.train.idx.numpy()
    if path.is_file():
        z = np.load(path)
        if np.array_equal(z["index"], index):
            return z["score"]
    args = reference_args(dataset, arch, models)
    rec = run_models(list(range(models)), data, build_args(arch, data), args, torch.device("cpu"),
                     True, min(args.models_per_batch, models), progress=True)
    score = all_scores(rec["in_subset"], rec["train_correct"], rec["train_phi"])[0]["logit"]
    score = np.nan_to_num(score.astype(np.float64), nan=-1e9)
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez(path, index=index, score=score)
    return score


def run_dataset(dataset, budget_s, max_models, reference_models):
    with tempfile.TemporaryDirectory() as tmp:
        data = load(dataset, tmp)
    data.bundle = datasets.load_bundle(dataset)
    arch = data.bundle.default_arch
    measure, target = TARGETS[dataset]
    reference = reference_of(dataset, data, arch, reference_models) if dataset == "digits" else None
    a, b = rum_style(dataset, arch), ours(dataset, arch)
    # warm-up: the first optimizer step imports torch._dynamo (~2 s), which must not be timed
    run_models([0, 1], data, build_args(a.arch, data), replace(a, epochs=1), torch.device("cpu"),
               False, 1, progress=False)
    out = {"measure": measure, "target": target}
    # each trains models until its scores reach the target (however many that takes), the budget
    # or max_models: the number of models is part of what is measured
    runs = {"rum_style": Estimator(dataset, data, a, 1, reference, target, budget_s, max_models),
            "ours": Estimator(dataset, data, b, min(b.models_per_batch, b.num_models), reference, target,
                              budget_s, max_models)}
    side_by_side_until_target(list(runs.values()))
    for name, e in runs.items():
        args, trace = e.args, e.trace
        out[name] = {"arch": args.arch, "epochs": args.epochs, "batch_size": args.batch_size,
                     "score": args.score, "path": "sequential" if args.path == "sequential" else "batched",
                     "seconds_to_target": e.reached, "seconds": round(e.spent, 2), "trace": trace}
        best = f"best {max(q for *_, q in trace):.3f}" if trace else "no score yet"
        print(f"  {dataset} {name}: {args.arch} x {args.epochs} ep, {args.score}: "
              + (f"{measure} >= {target} after {trace[-1][0]} models, {e.reached:.1f}s" if e.reached
                 else f"missed {measure} {target} within {e.spent:.0f}s "
                      f"({sum(len(r['in_subset']) for r in e.recs)} models, {best})"), flush=True)
    ta, tb = out["rum_style"]["seconds_to_target"], out["ours"]["seconds_to_target"]
    if tb is not None:
        out["ratio"] = (ta if ta is not None else out["rum_style"]["seconds"]) / tb
        out["ratio_is_lower_bound"] = ta is None
    return out


def run(datasets_=("synthetic", "digits"), budget_s=600, max_models=128, reference_models=64):
    return {"datasets": {d: run_dataset(d, budget_s, max_models, reference_models) for d in datasets_}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synthetic,digits", help="comma list")
    p.add_argument("--budget", type=float, default=600, help="seconds (a) may spend before giving up")
    p.add_argument("--max_models", type=int, default=128)
    p.add_argument("--reference_models", type=int, default=64, help="models of the digits reference")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = run(tuple(a.dataset.split(",")), a.budget, a.max_models, a.reference_models)
    for d, r in out["datasets"].items():
        if "ratio" in r:
            print(f"{d}: time-to-quality RUM-style / ours = {'>' if r['ratio_is_lower_bound'] else ''}"
                  f"{r['ratio']:.1f}x")


if __name__ == "__main__":
    main()
