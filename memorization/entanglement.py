"""Entanglement Score (ES) and the embedding-distance groups that serve as ES forget sets.

Features are the penultimate embedding `model.features(x)`, taken in eval mode on the plain
images (no augmentation), and every mean is an exact mean over examples (float64), not a mean
of batch means.

    ES = intra / inter
    intra = mean_{x in R} ‖φ(x) − μ_R‖² + mean_{x in F} ‖φ(x) − μ_F‖²
    inter = (‖μ_R − μ‖² + ‖μ_F − μ‖²) / 2

with μ = (μ_R + μ_F)/2, the midpoint of the two set means, as in RUM's code (`mu="midpoint"`);
`mu="global"` uses the size-weighted mean of R ∪ F instead. Higher ES = more entangled.
"""
import numpy as np
import torch

from evaluation.accuracy import embeddings

MU_RULES = ("midpoint", "global")


def entanglement_terms(retain_features, forget_features, mu="midpoint"):
    """ES and its parts from two feature matrices [n, d] (exact means)."""
    if mu not in MU_RULES:
        raise ValueError(f"mu must be one of {MU_RULES}, got {mu!r}")
    fr = torch.as_tensor(retain_features, dtype=torch.float64)
    ff = torch.as_tensor(forget_features, dtype=torch.float64)
    if len(fr) == 0 or len(ff) == 0:
        raise ValueError("ES needs a non-empty retain and forget set")
    mu_r, mu_f = fr.mean(0), ff.mean(0)
    if mu == "midpoint":
        centre = (mu_r + mu_f) / 2
    else:
        centre = (fr.sum(0) + ff.sum(0)) / (len(fr) + len(ff))
    intra = ((fr - mu_r) ** 2).sum(1).mean() + ((ff - mu_f) ** 2).sum(1).mean()
    inter = (((mu_r - centre) ** 2).sum() + ((mu_f - centre) ** 2).sum()) / 2
    es = intra / inter if inter > 0 else torch.tensor(float("inf"), dtype=torch.float64)
    return {"es": float(es), "intra": float(intra), "inter": float(inter)}


def entanglement_score(model, retain, forget, batch_size=1024, mu="midpoint"):
    """ES of a forget set F against a retain set R (TensorSets) under `model`'s embedding."""
    return entanglement_terms(embeddings(model, retain, batch_size), embeddings(model, forget, batch_size),
                              mu)["es"]


def centroid_distances(features):
    feats = torch.as_tensor(features, dtype=torch.float64)
    return (feats - feats.mean(0)).norm(dim=1).numpy()


def distance_groups(model, train_set, n_groups=15, batch_size=1024, return_distances=False):
    """n_groups arrays of original indices: D sorted by the distance of φ(x) to the global
    centroid (ascending, stable), cut into n_groups equal consecutive slices of floor(|D|/n_groups);
    the last |D| mod n_groups (farthest) examples belong to no group."""
    if n_groups < 1 or n_groups > len(train_set):
        raise ValueError(f"n_groups must be in 1..{len(train_set)}, got {n_groups}")
    dist = centroid_distances(embeddings(model, train_set, batch_size))
    order = np.argsort(dist, kind="stable")
    size = len(train_set) // n_groups
    idx = train_set.idx.numpy()
    groups = [idx[order[g * size:(g + 1) * size]] for g in range(n_groups)]
    if return_distances:
        return groups, [dist[order[g * size:(g + 1) * size]] for g in range(n_groups)]
    return groups


def group_entanglement(model, train_set, n_groups=15, n=None, batch_size=1024, mu="midpoint"):
    """ES of each distance group used as a forget set (its first n examples, as the forget-set
    builder takes them; all of it when n is None) against the rest of D. One feature pass."""
    return distance_group_entanglement(embeddings(model, train_set, batch_size), train_set.idx.numpy(),
                                       n_groups, n, mu)


def distance_group_entanglement(feats, idx, n_groups=15, n=None, mu="midpoint"):
    """`group_entanglement` from the embeddings `feats` [N, d] of the examples `idx`."""
    dist = centroid_distances(feats)
    order = np.argsort(dist, kind="stable")
    size = len(idx) // n_groups
    rows = []
    for g in range(n_groups):
        members = order[g * size:(g + 1) * size]
        forget = members[:n] if n else members
        mask = np.zeros(len(idx), dtype=bool)
        mask[forget] = True
        terms = entanglement_terms(feats[~mask], feats[mask], mu)
        rows.append({"group": g, "size": int(len(forget)), **terms,
                     "distance_min": float(dist[members].min()), "distance_max": float(dist[members].max()),
                     "indices": idx[forget].tolist()})
    return rows
