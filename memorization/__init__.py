"""Memorization: the heldout estimator (batched, sharded), proxies, entanglement groups.

Also runnable as `python -m memorization {estimate,merge,proxy,es}`. Outputs go to
`<save_dir>/memorization/`: heldout.npz, <proxy>.npz (each with `index`, `score`,
`memorization_sign` and a .json sidecar), es_groups.json, and shards/ for sharded estimates.
"""
from .entanglement import distance_groups, entanglement_score, entanglement_terms, group_entanglement
from .heldout import memorization_scores, merge

__all__ = ["distance_groups", "entanglement_score", "entanglement_terms", "group_entanglement",
           "memorization_scores", "merge"]
