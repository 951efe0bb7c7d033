"""Collect metrics.json files, group them (method × forget-set kind × group) and summarise over
seeds with a 95% t-interval. One seed gives no interval (n/a), never an invented one; diverged
runs are counted and shown, never averaged in."""
import csv
import io
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from engine.errors import UserError
from engine.io import write_png

ACC_SETS = ("forget", "retain", "val", "test")


def find_metrics(paths):
    found = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("metrics.json")))
        else:
            raise UserError(f"no such file or folder: {p}")
    return found


def load_runs(paths):
    runs = []
    for path in find_metrics(paths):
        try:
            m = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{path} is corrupt (not JSON); delete it and re-run that job")
        if "method" in m and "forget_set" in m:  # skip original/retrain metrics
            m["_path"] = str(path)
            runs.append(m)
    return runs


def group_label(forget_set):
    p, kind = forget_set.get("params", {}), forget_set["kind"]
    if kind == "memorization":
        return f"{p['group']} ({p['proxy']})"
    if kind == "es":
        return "mix" if p["group_index"] == -1 else f"g{p['group_index']}"
    if kind == "class":
        return "class " + ",".join(map(str, p["classes"])) + (f" n{p['n']}" if "n" in p else "")
    if kind == "rum":
        return p.get("variant", "rum")
    return f"n{p.get('n', len(forget_set.get('indices', [])) or forget_set.get('size'))}"


def run_values(m):
    """Flat numbers of one run: accuracies, gaps to the reference, ToW, MIA, RTE."""
    acc, ref = m.get("accuracy", {}), m["reference"]["accuracy"]
    out = {}
    for s in ACC_SETS:
        if s in acc:
            out[s] = acc[s]
            out[f"{s}_gap"] = acc[s] - ref[s]
    for key in ("tow", "tow_mia", "rte", "wall_time_s"):
        if m.get(key) is not None:
            out[key] = m[key]
    for k, v in (m.get("mia") or {}).items():
        out[f"mia_{k}"] = v
        out[f"mia_{k}_gap"] = v - m["reference"]["mia"][k]
    return out


def t_interval(values, confidence=0.95):
    """(mean, lower, upper); lower/upper are None for fewer than two values."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    sem = float(values.std(ddof=1) / math.sqrt(len(values)))
    if sem == 0:
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def summarise(runs, columns):
    groups = {}
    for m in runs:
        key = (m["method"] + (f"-{m['config']['tag']}" if m["config"].get("tag") else ""),
               m["forget_set"]["kind"], group_label(m["forget_set"]))
        groups.setdefault(key, []).append(m)
    rows = []
    for (method, kind, group), members in sorted(groups.items()):
        ok = [m for m in members if not m.get("diverged")]
        row = {"method": method, "kind": kind, "group": group, "n_seeds": len(ok),
               "n_diverged": len(members) - len(ok)}
        values = [run_values(m) for m in ok]
        for col in columns:
            vals = [v[col] for v in values if col in v and v[col] is not None and math.isfinite(v[col])]
            if vals:
                mean, lo, hi = t_interval(vals)
                row[col] = mean
                row[f"{col}_ci"] = None if lo is None else (hi - lo) / 2
            else:
                row[col], row[f"{col}_ci"] = None, None
        rows.append(row)
    return rows


def fmt(value, ci=None, digits=3):
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text + (" ± n/a" if ci is None else f" ± {ci:.{digits}f}")


def to_csv(rows):
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(rows, columns, titles):
    head = ["method", "forget set", "group", "seeds"] + [titles.get(c, c) for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        seeds = f"{r['n_seeds']}" + (f" (+{r['n_diverged']} diverged)" if r["n_diverged"] else "")
        cells = [r["method"], r["kind"], r["group"], seeds]
        cells += [fmt(r[c], r[f"{c}_ci"], 2 if c in ACC_SETS or c.endswith("_gap") and "mia" not in c
                      else 3) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


GROUP_ORDER = {"memorization": ["low", "mid", "high", "mix"], "es": [f"g{i}" for i in range(15)] + ["mix"]}


def plot_by_group(rows, kind, column, path, ylabel):
    """Line plot of `column` over the groups of one forget-set kind, one line per method."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r["kind"] == kind and r[column] is not None]
    if not rows:
        return None
    order = GROUP_ORDER[kind]

    def position(group):
        head = group.split(" ")[0]
        return order.index(head) if head in order else len(order)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for method in sorted({r["method"] for r in rows}):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: position(r["group"]))
        xs = [r["group"] for r in mine]
        ys = [r[column] for r in mine]
        err = [r[f"{column}_ci"] or 0 for r in mine]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=method)
    ax.set_xlabel("memorization group" if kind == "memorization" else "ES group (distance to centroid)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return write_png(path, fig, dpi=120)
