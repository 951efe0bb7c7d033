"""Forget sets: which training examples (by original index) a run must forget, and how chosen.

Kinds: random, class-wise, memorization group (true estimate or a proxy), entanglement (ES)
group, or an explicit index file. Each is saved as `<save_dir>/forget_sets/<name>.json` with its
sorted original indices, their sha256 and the recipe, so every later step reads the same set.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import read_json, read_npz, sha256_of_indices, write_json

MEM_GROUPS = ("high", "mid", "low", "mix")
N_ES_GROUPS = 15
ES_MIX_GROUPS = (3, 12, 14)  # RUM's low / medium / high-ES groups for --group_index -1


@dataclass(frozen=True)
class ForgetFlags:
    """What to forget: one kind of forget set (random by default)."""
    num_indexes_to_replace: int | None = None
    class_to_replace: tuple | None = None
    mem: str | None = None
    mem_proxy: str = "heldout"
    mem_file: str | None = None
    group_index: int | None = None
    forget_index_file: str | None = None
    allow_overlap: bool = False


@dataclass
class ForgetSet:
    name: str
    kind: str
    indices: np.ndarray  # original indices, in selection order
    params: dict = field(default_factory=dict)

    @property
    def sha256(self):
        return sha256_of_indices(self.indices)

    def describe(self):
        return {"name": self.name, "kind": self.kind, "size": int(len(self.indices)),
                "sha256": self.sha256, "params": self.params}


def check_indices(indices, train_idx, what):
    indices = np.asarray(indices)
    if indices.ndim != 1 or (len(indices) and not np.issubdtype(indices.dtype, np.integer)):
        raise UserError(f"{what} must be a flat list of integer original indices")
    indices = indices.astype(np.int64)
    if len(indices) == 0:
        raise UserError(f"{what} is empty")
    values, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise UserError(f"{what} has duplicated indices, e.g. {values[counts > 1][:3].tolist()}")
    outside = np.setdiff1d(indices, train_idx)
    if len(outside):
        raise UserError(f"{what} has {len(outside)} indices outside the training set "
                        f"(out of range or in the validation split), e.g. {outside[:5].tolist()}")
    return indices


def check_size(n, available, flag="--num_indexes_to_replace"):
    if n is None or n <= 0:
        raise UserError(f"{flag} must be a positive number of examples")
    if n > available:
        raise UserError(f"{flag} {n} is larger than the {available} candidate training examples")


# ---- random and class-wise -------------------------------------------------------------------

def random_set(train_idx, labels, n, seed, classes=None):
    """n examples at random (from the given classes), or all of those classes when n is None."""
    candidates = np.asarray(train_idx)
    if classes:
        known = set(np.unique(labels).tolist())
        bad = [c for c in classes if c not in known]
        if bad:
            raise UserError(f"--class_to_replace {bad[0]} is not a class of this data set "
                            f"(classes 0..{max(known)})")
        candidates = candidates[np.isin(labels, classes)]
        if n is None:
            return ForgetSet(f"class{'-'.join(map(str, classes))}_all", "class", candidates,
                             {"classes": list(classes)})
    check_size(n, len(candidates))
    chosen = np.random.RandomState(seed).choice(candidates, n, replace=False)
    if classes:
        return ForgetSet(f"class{'-'.join(map(str, classes))}_n{n}_s{seed}", "class", chosen,
                         {"classes": list(classes), "n": n, "seed": seed})
    return ForgetSet(f"random_n{n}_s{seed}", "random", chosen, {"n": n, "seed": seed})


# ---- memorization groups: high / mid / low / mix (docs/reference.md) ---------------------------

def part_sizes(n):
    """(high, mid, low) sizes of a forget set of n cut in three: a third each, the low part
    taking the remainder (a `mix` set, RUM's refinement of a forget set, the ES mix)."""
    third = n // 3
    return third, third, n - 2 * third


def mid_target(scores, middle=None):
    """The score of a 'mid' example: the score file's natural middle when it has one (0.5 for a 0/1
    correctness heldout estimate, whose range is [-1, 1]), else the median (the logit heldout score
    and the proxies have no fixed scale)."""
    return middle if middle is not None else float(np.median(scores[np.isfinite(scores)]))


def natural_middle(path):
    """0.5 for a score file of 0/1-correctness memorization (ours with --score correctness, ours
    from before the logit score, the published RUM / Feldman & Zhang files), else None."""
    z = read_npz(path, "memorization score file")
    if "score_kind" in z:
        return 0.5 if str(z["score_kind"]) == "correctness" else None
    return 0.5 if "n_in" in z or "score" not in z else None


@dataclass(frozen=True)
class Groups:
    """Positions of the high, mid and low groups of one score vector, and the cuts between them
    that fall inside a run of equal values ({"high" | "mid" | "low": what was tied})."""
    high: np.ndarray
    mid: np.ndarray
    low: np.ndarray
    ties: dict


def tie_at_cut(keys, n):
    """(tied, taken, value) when keeping the first n of the ranked `keys` cuts through equal
    values (the stable sort then chose among them by position), else None."""
    if n == 0 or n >= len(keys) or keys[n - 1] != keys[n]:
        return None
    tied = keys == keys[n - 1]
    return int(tied.sum()), int(tied[:n].sum()), float(keys[n - 1])


def group_split(scores, sizes, target, allow_overlap=False):
    """The (high, mid, low) groups of sizes (h, m, l): the top h, the bottom l, and the m of the
    rest closest to `target`, so the three never share an example (ties: stable, by position).
    Sizes that add up to more than the examples cannot be disjoint: a UserError, unless
    `allow_overlap`, when mid is the m closest to `target` of all examples (RUM's rule)."""
    h, m, l = sizes
    if h + m + l > len(scores) and not allow_overlap:
        raise UserError(f"high, mid and low groups of {h}, {m} and {l} examples need {h + m + l} training "
                        f"examples and there are {len(scores)}: lower --num_indexes_to_replace, or pass "
                        "--allow_overlap to let the groups share examples")
    desc = np.argsort(-scores, kind="stable")
    asc = desc[::-1]
    rest = desc if h + m + l > len(scores) else desc[h:len(desc) - l]
    distance = np.abs(scores[rest] - target)
    by_distance = np.argsort(distance, kind="stable")
    cuts = {"high": tie_at_cut(scores[desc], h), "mid": tie_at_cut(distance[by_distance], m),
            "low": tie_at_cut(scores[asc], l)}
    return Groups(desc[:h], rest[by_distance][:m], asc[:l],
                  {cut: describe_tie(cut, *tie, target) for cut, tie in cuts.items() if tie})


def describe_tie(cut, tied, taken, value, target):
    where = f"at distance {value:g} from the mid target {target:g}" if cut == "mid" else f"scoring {value:g}"
    return f"{cut}: {taken} of the {tied} examples {where} taken by position"


# which cuts decide a group's examples (mid: the examples high and low took are not candidates)
CUTS_OF = {"high": ("high",), "low": ("low",), "mid": ("high", "mid", "low"), "mix": ("high", "mid", "low")}


def check_group(group):
    if group not in MEM_GROUPS:
        raise UserError(f"--mem {group!r}: choose one of {', '.join(MEM_GROUPS)}")


def memorization_set(train_idx, scores, group, n, proxy, allow_overlap=False, middle=None):
    """The `group` forget set of n examples. `high`, `mid` and `low` are the groups of size n of
    one split (disjoint unless `allow_overlap` and 3n exceeds the training set); `mix` takes its
    three parts (a third each, low the remainder) by the same rule, so it is always disjoint and
    equals the union of the groups of a third of its size. The cuts that fell inside tied scores
    are recorded under `ties`. `middle`: the target of mid (default: the median)."""
    check_group(group)
    check_size(n, len(train_idx))
    target = mid_target(scores, middle)
    groups = group_split(scores, part_sizes(n) if group == "mix" else (n, n, n), target, allow_overlap)
    chosen = {"high": groups.high, "mid": groups.mid, "low": groups.low}.get(group)
    if chosen is None:
        chosen = np.concatenate([groups.high, groups.mid, groups.low])
    check_scored(scores, chosen, groups.low, group, n)
    params = {"group": group, "proxy": proxy, "n": n, "mid_target": target}
    ties = [groups.ties[cut] for cut in CUTS_OF[group] if cut in groups.ties]
    return ForgetSet(f"mem-{group}_{proxy}_n{n}", "memorization", train_idx[chosen],
                     {**params, **({"ties": ties} if ties else {})})


def check_scored(scores, chosen, low, group, n):
    """Unscored examples rank last: only the low group (or part) may take them."""
    unscored = np.setdiff1d(chosen[~np.isfinite(scores[chosen])], low)
    if len(unscored):
        raise UserError(f"--mem {group} with {n} examples would take {len(unscored)} without a score (only "
                        f"{int(np.isfinite(scores).sum())} training examples have a finite one); lower "
                        "--num_indexes_to_replace or recompute the scores")


def load_scores(path, train_idx, original_sha256=None):
    """Per-example scores for the training set, oriented so that higher = more memorized.

    Accepts our files (`index`, `score`, `memorization_sign`) and the published RUM / Feldman &
    Zhang files (a length-n array under `memorization` or `tr_mem`, in original-index order).
    Scores whose sidecar says they came from another original model than `original_sha256`
    (the run folder's model was trained again since) are refused.
    """
    sidecar = Path(path).with_suffix(".json")
    if original_sha256 and sidecar.is_file():
        made_from = read_json(sidecar, "score file description").get("original_sha256")
        if made_from not in (None, original_sha256):
            raise UserError(f"{path} was computed from an earlier original model (the run folder's was trained "
                            "again since); compute it again")
    z = read_npz(path, "memorization score file",
                 hint="make it with: python -m memorization estimate (or proxy --kind ...) --save_dir ...")
    if "score" in z and "index" in z:
        index, score = z["index"].astype(np.int64), z["score"].astype(np.float64)
        sign = float(z.get("memorization_sign", 1.0))
    else:
        key = next((k for k in ("memorization", "tr_mem") if k in z), None)
        if key is None:
            raise UserError(f"{path} has none of the keys index+score, memorization, tr_mem")
        score, index, sign = z[key].astype(np.float64), np.arange(len(z[key])), 1.0
    if index.ndim != 1 or score.shape != index.shape:
        raise UserError(f"{path} is not a score file: 'index' and 'score' must be two arrays of one length "
                        f"(got shapes {index.shape} and {score.shape})")
    lookup = dict(zip(index.tolist(), range(len(index))))
    missing = [i for i in train_idx[:1000000] if i not in lookup]
    if missing:
        raise UserError(f"{path} has no score for {len(missing)} training examples, e.g. {missing[:5]}")
    oriented = sign * score[[lookup[i] for i in train_idx]]
    if not np.isfinite(oriented).any():
        raise UserError(f"{path} has no finite score for the training set (all NaN/inf); recompute it")
    # an example without a score (NaN) is taken as the least memorized, whatever the orientation
    return np.nan_to_num(oriented, nan=-np.inf)


# ---- entanglement (ES) groups: slices of D by distance to the embedding centroid ---------------

def es_set(groups, group_index, n):
    """First n of distance slice g (closest to the centroid first); -1 mixes RUM's 3/12/14."""
    if group_index == -1:
        if n is None or n < 3:
            raise UserError(f"--group_index -1 mixes three groups: --num_indexes_to_replace must be at least 3, got {n}")
        sizes = part_sizes(n)  # a third each, the last group the remainder
        parts = [groups[g][:k] for g, k in zip(ES_MIX_GROUPS, sizes)]
        for g, k, p in zip(ES_MIX_GROUPS, sizes, parts):
            check_size(k, len(groups[g]))
        return ForgetSet(f"es-mix_n{n}", "es", np.concatenate(parts), {"group_index": -1, "n": n})
    if not 0 <= group_index < len(groups):
        raise UserError(f"--group_index {group_index} must be in 0..{len(groups) - 1} or -1")
    check_size(n, len(groups[group_index]))
    return ForgetSet(f"es-g{group_index}_n{n}", "es", groups[group_index][:n],
                     {"group_index": group_index, "n": n})


# ---- explicit file -----------------------------------------------------------------------------

def file_set(path, train_idx):
    path = Path(path)
    if path.suffix == ".json":
        raw = read_json(path, "--forget_index_file")
        raw = raw.get("indices") if isinstance(raw, dict) else raw
    elif path.suffix == ".npy":
        if not path.is_file():
            raise UserError(f"--forget_index_file not found: {path}")
        try:
            raw = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise UserError(f"--forget_index_file {path} is corrupt ({e})")
    else:
        if not path.is_file():
            raise UserError(f"--forget_index_file not found: {path}")
        try:
            raw = [int(t) for t in path.read_text().replace(",", " ").split()]
        except ValueError:
            raise UserError(f"--forget_index_file {path} must hold whitespace- or comma-separated integers")
    indices = check_indices(raw if raw is not None else [], train_idx, f"--forget_index_file {path}")
    fs = ForgetSet("file", "file", indices, {"path": str(path)})
    stem = re.sub(r"[^A-Za-z0-9._+=-]+", "_", path.stem)[:60]
    fs.name = f"file-{stem}-{fs.sha256[:6]}"  # the file's name, and its content's (two files may share a name)
    return fs


# ---- persistence -------------------------------------------------------------------------------

def save_forget_set(save_dir, fs, split_sha):
    path = Path(save_dir) / "forget_sets" / f"{fs.name}.json"
    write_json(path, {**fs.describe(), "split_sha": split_sha,
                      "indices": np.sort(fs.indices).tolist()})
    return path
