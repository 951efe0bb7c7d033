"""Memorization: the heldout estimator (batched, sharded), proxies, entanglement groups: the
per-example scores that choose memorization and entanglement forget sets (docs/reference.md).

Also runnable as `python -m memorization {estimate,merge,proxy,es,report}`. Outputs go to
`<save_dir>/memorization/`: heldout.npz, <proxy>.npz (each with `index`, `score`,
`memorization_sign` and a .json sidecar), es_groups.json, and shards/ for sharded estimates.

Layer: memorization, beside `unlearn` (neither imports the other), above `evaluation`; it may
import `engine`, `datasets`, `models` and `evaluation`. Only `__main__.py` is an entry point.
"""
from .entanglement import distance_groups, entanglement_score, entanglement_terms, group_entanglement
from .heldout import memorization_scores, merge

__all__ = ["distance_groups", "entanglement_score", "entanglement_terms", "group_entanglement",
           "memorization_scores", "merge"]
