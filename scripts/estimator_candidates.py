"""Choose the heldout estimator's defaults from measurement: for each candidate learner (arch,
epochs) train the largest number of models once, then score every prefix of 8, 16, ... models with
both scores (0/1 correctness and the logit score) and report what a user gets from each setting:

  seconds          wall time of that many models (one process, --threads threads)
  tied             share of the examples holding the most common score value
  spearman_conf    Spearman of the score with the original model's confidence proxy
  auc_planted      ROC-AUC of the score for the planted rare / mislabeled examples (synthetic only)

The models of a prefix are exactly those an estimate with that --num_models trains (model k
depends on the seed and k only), so one run per learner gives every row.

    python scripts/estimator_candidates.py --save_dir runs/digits --candidates tinymlp:12:128,cnn:12:64
writes <save_dir>/memorization/candidates.{csv,json} (needs a trained original: main_train.py).
"""
import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.io import write_json, write_text  # noqa: E402
from evaluation.aggregate import to_csv  # noqa: E402
from memorization.common import load_data, out_dir  # noqa: E402
from memorization.heldout import all_scores, estimator_args, run_models, tied_fraction  # noqa: E402
from memorization.proxies import event_proxy, load_events  # noqa: E402
from memorization.report import planted_examples  # noqa: E402
from models import build_args  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_dir", required=True, help="a folder with a trained original (main_train.py)")
    p.add_argument("--dataset", default=None, help="default: the one the folder was trained on")
    p.add_argument("--candidates", default="tinymlp:12:128,mlp:12:128,cnn:12:64",
                   help="comma list of arch:epochs:models")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def confidence_of(args, index):
    """The original's confidence proxy, in the order of `index`."""
    _, events = load_events(args)
    conf = event_proxy(events, "confidence")
    lookup = dict(zip(events["index"].tolist(), conf))
    return np.array([lookup[i] for i in index.tolist()])


def rows_of(rec, seconds, conf, planted, arch, epochs):
    """One row per (prefix size, score kind)."""
    total = len(rec["in_subset"])
    sizes = sorted({k for k in (8, 16, 32, 64, 128, 256, 512) if k <= total} | {total})
    for k in sizes:
        scores, _ = all_scores(rec["in_subset"][:k], rec["train_correct"][:k], rec["train_phi"][:k])
        for kind, s in scores.items():
            ok = np.isfinite(s)
            yield {"arch": arch, "epochs": epochs, "models": k, "score": kind,
                   "seconds": round(seconds * k / total, 2), "tied": round(tied_fraction(s), 4),
                   "spearman_conf": round(float(stats.spearmanr(s[ok], conf[ok]).statistic), 4),
                   "auc_planted": (round(float(roc_auc_score(planted, np.nan_to_num(s, nan=-1e9))), 4)
                                   if planted is not None else None)}


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(a.threads)
    dataset = a.dataset or Path(a.save_dir).name
    base = estimator_args(save_dir=a.save_dir, dataset=dataset, seed=a.seed)
    device, data = load_data(base)
    conf = confidence_of(base, data.train.idx.numpy())
    planted = planted_examples(data.bundle.extras, data.train.idx.numpy())
    rows = []
    for text in a.candidates.split(","):
        arch, epochs, total = text.split(":")
        args = replace(base, arch=arch, epochs=int(epochs), num_models=int(total))
        group = min(args.models_per_batch, args.num_models)
        start = time.perf_counter()
        rec = run_models(list(range(args.num_models)), data, build_args(arch, data), args, device,
                         True, group, progress=False)
        seconds = time.perf_counter() - start
        np.savez(out_dir(a.save_dir) / f"candidate_{arch}_{epochs}_{total}.npz", **rec)  # to reuse
        for row in rows_of(rec, seconds, conf, planted, arch, int(epochs)):
            rows.append({"dataset": dataset, **row})
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    folder = out_dir(a.save_dir)
    write_text(folder / "candidates.csv", to_csv(rows, list(rows[0])))
    write_json(folder / "candidates.json", {"argv": sys.argv[1:], "threads": a.threads, "seed": a.seed,
                                             "rows": rows})


if __name__ == "__main__":
    main()
