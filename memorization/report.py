"""The `report` command: how well each proxy ranks the training examples as the
heldout estimate does, and how entangled each memorization group and each embedding-distance
group is under the original model.

Writes to <save_dir>/memorization/report/:
  correlations.csv  proxy, n, spearman, pearson, memorization_sign (raw scores: a proxy whose
                    high values mean "easy", like confidence, correlates negatively)
  scatter.png       heldout estimate against each proxy
  es.csv            ES of the memorization groups high / mid / low / mix and of the 15 distance groups
  report.json       all of the above with the full config, and on the synthetic set the ROC-AUC
                    of every score for the planted rare / mislabeled examples (`planted_auc`)
"""
import time

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from datasets import forget_sets as fsets
from engine.errors import UserError
from engine.io import read_npz, write_json, write_png, write_text
from evaluation.accuracy import embeddings
from evaluation.aggregate import to_csv
from .common import load_data, load_original, out_dir, run_record
from .entanglement import distance_group_entanglement, entanglement_terms
from .es_command import group_size
from .heldout import tied_fraction

HELDOUT = "heldout.npz"


def proxy_files(folder):
    """Every score file in the memorization folder other than the heldout estimate."""
    return sorted(p for p in folder.glob("*.npz") if p.name != HELDOUT)


def aligned(held, proxy, name):
    """The proxy's raw scores in the order of the heldout file's index; a UserError when the two
    files do not cover the same examples."""
    lookup = dict(zip(proxy["index"].tolist(), range(len(proxy["index"]))))
    missing = [i for i in held["index"].tolist() if i not in lookup]
    if missing:
        raise UserError(f"{name} has no score for {len(missing)} examples of the heldout estimate "
                        f"(e.g. {missing[:3]}); were they made on the same --save_dir?")
    return proxy["score"].astype(np.float64)[[lookup[i] for i in held["index"].tolist()]]


def correlations(held, folder):
    """(rows, {proxy name: aligned scores}) for every proxy file with an index and a score."""
    rows, scores = [], {}
    mem = held["score"].astype(np.float64)
    for path in proxy_files(folder):
        z = read_npz(path, "proxy score file")
        if "index" not in z or "score" not in z:
            continue  # not a per-example score file
        score = aligned(held, z, path.name)
        ok = np.isfinite(score) & np.isfinite(mem)
        constant = ok.sum() < 3 or np.ptp(score[ok]) == 0 or np.ptp(mem[ok]) == 0
        rows.append({"proxy": path.stem, "n": int(ok.sum()),
                     "spearman": None if constant else float(stats.spearmanr(score[ok], mem[ok]).statistic),
                     "pearson": None if constant else float(stats.pearsonr(score[ok], mem[ok]).statistic),
                     "memorization_sign": int(z.get("memorization_sign", 1))})
        scores[path.stem] = (score, rows[-1]["memorization_sign"])
    return rows, scores


def planted_examples(extras, index):
    """Booleans in the order of `index`: which examples the synthetic set planted as rare or
    mislabeled (the ground truth of memorization); None for data sets without it."""
    if "rare" not in extras or "mislabeled" not in extras:
        return None
    return (np.asarray(extras["rare"]) | np.asarray(extras["mislabeled"]))[index]


def planted_auc(extras, index, held, scores):
    """ROC-AUC of each score (oriented: higher = more memorized) for the examples the synthetic
    set planted as rare or mislabeled against the rest; None for data sets without ground truth."""
    planted = planted_examples(extras, index)
    if planted is None or planted.all() or not planted.any():
        return None
    # never scored (NaN): least memorized; sklearn wants finite values
    out = {"heldout": roc_auc_score(planted, np.nan_to_num(held["score"].astype(np.float64), nan=-1e300))}
    for name, (score, sign) in scores.items():
        out[name] = roc_auc_score(planted, np.nan_to_num(sign * score, nan=-1e300))
    return {k: float(v) for k, v in out.items()}


def memorization_group_es(feats, train_idx, scores, n, mu, middle):
    """ES of each heldout memorization group (the forget sets `--mem G -n n` would build)."""
    rows = []
    for group in fsets.MEM_GROUPS:
        chosen = fsets.memorization_set(train_idx, scores, group, n, "heldout", middle=middle).indices
        mask = np.isin(train_idx, chosen)
        rows.append({"kind": "memorization", "group": group, "size": int(mask.sum()),
                     **entanglement_terms(feats[~mask], feats[mask], mu)})
    return rows


def scatter(path, held, scores, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = max(1, min(3, len(scores)))
    nrows = max(1, -(-len(scores) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.4 * nrows), squeeze=False)
    by_name = {r["proxy"]: r for r in rows}
    for ax in axes.flat[len(scores):]:
        ax.axis("off")
    for ax, (name, (score, _)) in zip(axes.flat, scores.items()):
        rho = by_name[name]["spearman"]
        ax.scatter(held, score, s=4, alpha=0.4)
        ax.set_xlabel("heldout memorization")
        ax.set_ylabel(name)
        ax.set_title(f"{name}: Spearman {'n/a' if rho is None else f'{rho:+.3f}'}", fontsize=10)
    if not scores:
        axes[0][0].text(0.5, 0.5, "no proxy files yet", ha="center")
    fig.tight_layout()
    write_png(path, fig)


def table_csv(rows):
    return to_csv(rows, list(rows[0])) if rows else ""


def report(args):
    folder = out_dir(args.save_dir)
    device, data = load_data(args)
    train_idx = data.train.idx.numpy()
    # every group the size of a distance group by default, so the two kinds compare
    size = group_size(args, len(train_idx))  # checks --n_groups and --num_indexes_to_replace
    n = args.num_indexes_to_replace or size
    held = read_npz(folder / HELDOUT, "heldout memorization file",
                    hint=f"make it with: python -m memorization estimate --save_dir {args.save_dir}")
    start = time.perf_counter()
    rows, scores = correlations(held, folder)
    model, _ = load_original(args, data, device)
    feats = embeddings(model, data.train)
    mem_scores = fsets.load_scores(folder / HELDOUT, train_idx)
    es_rows = memorization_group_es(feats, train_idx, mem_scores, n, args.mu,
                                    fsets.natural_middle(folder / HELDOUT))
    es_rows += [{"kind": "distance", "group": r["group"], "size": r["size"], "es": r["es"],
                 "intra": r["intra"], "inter": r["inter"]}
                for r in distance_group_entanglement(feats, train_idx, args.n_groups, n, args.mu)]
    target = folder / "report"
    write_text(target / "correlations.csv", table_csv(rows))
    write_text(target / "es.csv", table_csv(es_rows))
    scatter(target / "scatter.png", held["score"].astype(np.float64), scores, rows)
    auc = planted_auc(data.bundle.extras, held["index"], held, scores)
    record = run_record(args, data.split, device=str(device), group_size=n, mu=args.mu,
                        wall_time_s=time.perf_counter() - start)
    summary = heldout_summary(held)
    write_json(target / "report.json", {**record, "heldout": summary, "correlations": rows,
                                        "entanglement": es_rows, "planted_auc": auc})
    return {"folder": target, "heldout": summary, "correlations": rows, "entanglement": es_rows,
            "planted_auc": auc}


def heldout_summary(held):
    """Which score the heldout file holds and how much of a ranking by it is ties."""
    score = held["score"].astype(np.float64)
    return {"score": str(held["score_kind"]) if "score_kind" in held else "correctness",
            "n": int(len(score)), "tied_fraction": tied_fraction(score)}
