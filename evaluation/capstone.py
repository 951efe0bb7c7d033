"""The capstone's evaluation extras (its geo metric and t-SNE figure), on top of the shared
accuracy and MIA code (no second MIA here):

- `geo_metric`: the geometric mean of how far the unlearned model's forget and test accuracies
  are from the ORIGINAL model's test accuracy, sqrt(|acc_f - a0| * |acc_t - a0|), with a0 read
  from <save_dir>/original/metrics.json (the capstone hard-coded 95.77 and printed the product).
- `tsne_plot`: t-SNE of forget / retain / test features before and after unlearning
  (subsampled to at most 1500 points; the capstone embedded ~50k points).
"""
import math
from pathlib import Path

import numpy as np
import torch

from engine.io import write_png
from .accuracy import embeddings

MAX_POINTS = 1500


def geo_metric(forget_acc, test_acc, original_acc):
    """sqrt(|forget_acc - original_acc| * |test_acc - original_acc|), accuracies in percent."""
    values = (forget_acc, test_acc, original_acc)
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return math.sqrt(abs(forget_acc - original_acc) * abs(test_acc - original_acc))


def original_test_accuracy(save_dir):
    """The original model's test accuracy (%) from <save_dir>/original/metrics.json, or None."""
    import json
    path = Path(save_dir) / "original" / "metrics.json"
    try:
        return float(json.loads(path.read_text())["accuracy"]["test"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def geo_metric_of_run(save_dir, result):
    a0 = original_test_accuracy(save_dir)
    acc = result.get("accuracy") or {}
    return {"geo_metric": geo_metric(acc.get("forget"), acc.get("test"), a0),
            "geo_metric_original_acc": a0}


def tsne_sample(sets, max_points=MAX_POINTS, seed=0):
    """Up to max_points examples split evenly over forget / retain / test (a small forget set
    gives its share to the others), drawn without replacement with a seeded generator."""
    names = [n for n in ("forget", "retain", "test") if n in sets and len(sets[n])]
    gen = torch.Generator().manual_seed(int(seed))
    left, picked = max_points, {}
    for i, name in enumerate(sorted(names, key=lambda n: len(sets[n]))):
        share = left // (len(names) - i)
        k = min(share, len(sets[name]))
        picked[name] = sets[name].subset(torch.randperm(len(sets[name]), generator=gen)[:k])
        left -= k
    return picked


def embed(feats, seed):
    from sklearn.manifold import TSNE
    perplexity = float(min(30, max(2, (len(feats) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(feats)
    lo, hi = emb.min(0), emb.max(0)
    return (emb - lo) / np.where(hi > lo, hi - lo, 1)  # min-max to [0, 1], as the capstone


def tsne_plot(before, after, sets, path, seed=0, max_points=MAX_POINTS):
    """Two panels (before / after unlearning) of the same sampled points: colour = class,
    marker = set (retain dots, test crosses, forget black-edged diamonds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    picked = tsne_sample(sets, max_points, seed)
    names = list(picked)
    labels = np.concatenate([picked[n].y.cpu().numpy() for n in names])
    which = np.concatenate([[n] * len(picked[n]) for n in names])
    style = {"retain": dict(marker=".", s=6, alpha=0.5), "test": dict(marker="x", s=8, alpha=0.5),
             "forget": dict(marker="D", s=18, edgecolors="k", linewidths=0.5)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    cmap = plt.get_cmap("tab10" if labels.max(initial=0) < 10 else "tab20")
    for ax, model, title in ((axes[0], before, "before unlearning"), (axes[1], after, "after unlearning")):
        emb = embed(np.concatenate([embeddings(model, picked[n]).float().numpy() for n in names]), seed)
        for name in ("retain", "test", "forget"):
            m = which == name
            if m.any():
                ax.scatter(emb[m, 0], emb[m, 1], c=cmap(labels[m] % cmap.N), label=name, **style[name])
        ax.set_title(title)
        ax.set_xticks([]), ax.set_yticks([])
    axes[1].legend(loc="best", fontsize=7, markerscale=1.5)
    fig.suptitle(" / ".join(f"{n} {len(picked[n])}" for n in names) + " points; colour = class")
    fig.tight_layout()
    return write_png(path, fig)
