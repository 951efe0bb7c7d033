"""Collect metrics.json files, group them (method variant × forget-set kind × group) and summarise over
seeds with a 95% t-interval. One seed gives no interval (n/a), never an invented one; diverged
runs are counted and shown, never averaged in."""
import csv
import functools
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import check_schema, read_json, write_png
from .tow import VAL_TOW_SETS, tow

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


RUN_METRICS = {"method": str, "forget_set": dict, "config": dict, "accuracy": dict, "reference": dict}


def load_runs(paths):
    """The unlearning runs' metrics.json under `paths`; the original model's and the retrain
    references' (no `method`, recognisable by their own keys) are passed over, and any other
    file is refused rather than silently dropped."""
    runs = []
    for path in find_metrics(paths):
        m = read_json(path, "metrics file")
        if isinstance(m, dict) and "method" not in m and ("val_history" in m or "settings" in m):
            continue  # an original model's or a retrain reference's metrics
        m = check_schema(m, RUN_METRICS, f"{path} (not an unlearning run's metrics.json)")
        m["_path"] = str(path)
        runs.append(m)
    return runs


def group_label(forget_set):
    """Which forget set of its kind: the group and its size (runs on 30 and on 90 examples are
    different settings, never seeds of one)."""
    p, kind = forget_set.get("params", {}), forget_set["kind"]
    n = p.get("n", forget_set.get("size"))
    if kind == "memorization":
        return f"{p['group']} n{n} ({p['proxy']})"
    if kind == "es":
        return ("mix" if p["group_index"] == -1 else f"g{p['group_index']}") + f" n{n}"
    if kind == "class":
        return "class " + ",".join(map(str, p["classes"])) + (f" n{p['n']}" if "n" in p else "")
    if kind == "file":
        return forget_set["name"]  # file-<sha>: the same indices, whatever the file was called
    if kind == "requests":  # main_rum.py --requests: S requests of a --mem group of n each
        return f"{p['group']} n{n} x{p['requests']} ({p['proxy']})"
    return f"n{n}"


@functools.lru_cache(maxsize=None)
def _built_arch(folder):
    try:
        return json.loads((Path(folder) / "model.json").read_text())["build"]["arch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def arch_used(m):
    """The architecture a run unlearned: that of its retrain reference, which is built like the
    starting model (`config.arch` is only what was typed; unlearning takes the checkpoint's). The
    reference is looked for where it was written, then in the run's own save folder (moved runs).
    Runs record it themselves (`arch` in metrics.json); the lookup serves runs made before."""
    if m.get("arch"):
        return m["arch"]
    reference = (m.get("reference") or {}).get("path")
    if reference:
        run_file = Path(m["_path"])
        folders = [Path(reference)]
        if len(run_file.parents) > 4:  # <save_dir>/unlearn/<method>/<forget set>/s<seed>/metrics.json
            folders.append(run_file.parents[4] / "retrain" / Path(reference).name)
        for folder in folders:
            arch = _built_arch(str(folder))
            if arch is not None:
                return arch
    return m["config"].get("arch")


def method_applied(m):
    """The method a run applied: `rum` for a full RUM run (its label names a method per part),
    else the recorded --unlearn (RUM's controls apply it to the whole set or to every part)."""
    return "rum" if m.get("variant") == "rum" else m["config"].get("unlearn", m["method"])


# flags that differ between the seeds of one setting or change no figure: the seed, where files
# are (a mask or generator folder is per forget set, hence per seed), what is kept or drawn
NOT_SETTINGS = {"seed", "save_dir", "data", "download", "device", "compile", "skip_existing",
                "save_model", "tsne", "cka", "confusion", "start_model", "simclr_path",
                "generator_path", "mask_path",
                # the typed strengths: the resolved ones are recorded next to them
                "strengths_given",
                # the forget set: its kind and group_label say which it is
                "num_indexes_to_replace", "class_to_replace", "mem", "mem_proxy", "mem_file",
                "allow_overlap", "group_index", "forget_index_file"}


def settings(m):
    """What a run did besides its seed and forget set: its config without NOT_SETTINGS, with the
    architecture it used and the file name of its mask (mask_<sparsity>.pt)."""
    config = m["config"]
    out = {k: v for k, v in config.items() if k not in NOT_SETTINGS}
    out["arch"] = arch_used(m)
    if config.get("mask_path"):
        out["mask"] = Path(config["mask_path"]).name
    if m.get("original_sha256"):  # runs from an original model trained again are not seeds of these
        out["original"] = m["original_sha256"][:8]
    return out


def method_label(m):
    return m["method"] + (f"-{m['config']['tag']}" if m["config"].get("tag") else "")


def _text(value):
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def variant_labels(runs):
    """{id(run): label}: the method (and --tag), plus `flag=value` for each setting in which runs
    of that method differ (`NG alpha=0.9` next to `NG alpha=0.99`)."""
    mine = {id(m): settings(m) for m in runs}
    by_method = {}
    for m in runs:
        by_method.setdefault(method_label(m), []).append(mine[id(m)])
    labels = {}
    for m in runs:
        name, others = method_label(m), by_method[method_label(m)]
        keys = {k for s in others for k in s}
        differ = sorted(k for k in keys if len({_text(s.get(k)) for s in others}) > 1)
        labels[id(m)] = " ".join([name] + [f"{k}={_text(mine[id(m)].get(k))}" for k in differ])
    return labels


def run_values(m):
    """Flat numbers of one run: accuracies, gaps to the reference, ToW, MIA, RTE, and `val_tow`
    (ToW with the validation split in place of the test split, for choices that must not see it)."""
    acc, ref = m.get("accuracy", {}), m["reference"]["accuracy"]
    out = {}
    for s in ACC_SETS:
        if s in acc:
            out[s] = acc[s]
            out[f"{s}_gap"] = acc[s] - ref[s]
    for key in ("tow", "tow_mia", "rte", "wall_time_s"):
        if m.get(key) is not None:
            out[key] = m[key]
    if all(k in acc and k in ref for k in VAL_TOW_SETS):
        out["val_tow"] = tow(acc, ref, VAL_TOW_SETS)
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
    from scipy import stats  # imported here: it costs ~1 s of start-up
    lo, hi = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def paired_difference(x, y):
    """{seed: value} x minus y over the seeds both have: (mean, low, high, n) of the 95% t-interval;
    low and high are None under two seeds, and all None (n 0) without a common seed."""
    common = sorted(x.keys() & y.keys())
    if not common:
        return None, None, None, 0
    return (*t_interval([x[s] - y[s] for s in common]), len(common))


def seed_tows(runs, label):
    """{seed: ToW} of the finished runs whose method is `label` (e.g. rumf-NG, rum-FT+NG+GA)."""
    return {m["config"]["seed"]: m["tow"] for m in runs
            if m["method"] == label and not m.get("diverged") and m.get("tow") is not None}


def paired_tow(runs, a, b):
    """ToW of the runs labelled `a` minus those labelled `b`, paired by seed (paired_difference)."""
    return paired_difference(seed_tows(runs, a), seed_tows(runs, b))


def side_of_zero(diff):
    """`above` / `below` when a paired_difference's interval excludes 0 on that side, `inside`
    when it holds 0, None without an interval."""
    _, low, high, _ = diff
    if low is None:
        return None
    return "above" if low > 0 else "below" if high < 0 else "inside"


def spearman_interval(xs, ys, confidence=0.95):
    """(rho, lower, upper): Spearman's rank correlation of `xs` with `ys` and its interval by
    Fisher's z with the Bonett-Wright standard error sqrt((1 + rho^2/2) / (n - 3)). Chosen over a
    bootstrap over seeds: on simulated sweeps without a trend (3 groups x 5 seeds, runs of a seed
    sharing an offset) the bootstrap's interval missed 0 in 10% of them, this one in under 5%.
    rho is None when xs or ys is constant; lower/upper are None for fewer than 4 pairs."""
    from scipy import stats  # imported here: it costs ~1 s of start-up
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(xs) < 2 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None, None, None
    rho = float(stats.spearmanr(xs, ys).statistic)
    if len(xs) < 4:
        return rho, None, None
    z = np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))  # perfect rank agreement: an interval at ±1, not inf
    half = stats.norm.ppf((1 + confidence) / 2) * math.sqrt((1 + rho ** 2 / 2) / (len(xs) - 3))
    return rho, float(np.tanh(z - half)), float(np.tanh(z + half))


def reference_key(m):
    """The retrain reference a run was scored against (its folder's name: a hash of the forget set,
    seed and recipe), so that runs on the same forget sets can be matched wherever they lie."""
    path = (m.get("reference") or {}).get("path")
    return Path(path).name if path else None


def summarise(runs, columns):
    """One row per method variant × forget-set kind × group: seeds counted, `columns` as mean and
    `<column>_ci` (half-width of the 95% t-interval; None for one seed). The `original` rows come
    first and every row says whether it had `no_effect` (see mark_no_effect), so forget accuracy and
    ToW are summarised whether asked for or not."""
    labels = variant_labels(runs)
    groups = {}
    for m in runs:
        key = (labels[id(m)], m["forget_set"]["kind"], group_label(m["forget_set"]))
        groups.setdefault(key, []).append(m)
    rows = []
    for (method, kind, group), members in groups.items():
        ok = [m for m in members if not m.get("diverged")]
        row = {"method": method, "kind": kind, "group": group, "n_seeds": len(ok),
               "n_diverged": len(members) - len(ok),
               "original": all(m["method"] == BASELINE for m in members),
               "references": {reference_key(m) for m in members}}
        values = [run_values(m) for m in ok]
        for col in dict.fromkeys([*columns, *NO_EFFECT_FIGURES]):
            vals = [v[col] for v in values if col in v and v[col] is not None and math.isfinite(v[col])]
            if vals:
                mean, lo, hi = t_interval(vals)
                row[col] = mean
                row[f"{col}_ci"] = None if lo is None else (hi - lo) / 2
            else:
                row[col], row[f"{col}_ci"] = None, None
        rows.append(row)
    rows.sort(key=lambda r: (not r["original"], *row_order(r["method"], r["kind"], r["group"])))
    return mark_no_effect(rows)


# ---- the starting model as a baseline: which methods did nothing measurable -------------------

BASELINE = "original"  # the method that leaves the starting model as it is
NO_EFFECT_FIGURES = ("forget", "tow")
NO_EFFECT_MARK = "∅"
NO_EFFECT_NOTE = (f"{NO_EFFECT_MARK} = no effect: the mean forget accuracy and the mean ToW both lie inside the "
                  "95% t-interval of `original` (the starting model, not unlearned) on the same forget set, so "
                  "these runs cannot be told apart from not unlearning at all (judged only where `original` "
                  "has two or more seeds).")


def inside(value, interval, tolerance=1e-9):
    """Whether `value` lies in the closed `interval` (low, high); the tolerance lets a method that
    left the model unchanged match an interval of width 0 despite floating-point rounding."""
    return value is not None and interval is not None and interval[0] - tolerance <= value <= interval[1] + tolerance


def no_effect(means, intervals):
    """Whether a method's means ({figure: mean}) of forget accuracy and ToW both lie inside the
    baseline's 95% t-intervals ({figure: (low, high), or None for one seed})."""
    return all(inside(means.get(f), intervals.get(f)) for f in NO_EFFECT_FIGURES)


def row_interval(row, column):
    """(low, high) of a summary row's 95% t-interval of `column`; None without one."""
    mean, half = row.get(column), row.get(f"{column}_ci")
    return None if mean is None or half is None else (mean - half, mean + half)


def baseline_of(row, rows):
    """The `original` row on `row`'s forget sets: same kind and group, and scored against the same
    retrain references (so the same data set, forget sets and seeds)."""
    return next((b for b in rows if b["original"] and (b["kind"], b["group"]) == (row["kind"], row["group"])
                 and b["references"] & row["references"]), None)


def mark_no_effect(rows):
    """Set `no_effect` on every summary row (never on the `original` rows themselves)."""
    for row in rows:
        base = None if row["original"] else baseline_of(row, rows)
        row["no_effect"] = base is not None and \
            no_effect(row, {f: row_interval(base, f) for f in NO_EFFECT_FIGURES})
    return rows


def marked(label, flagged):
    return f"{label} {NO_EFFECT_MARK}" if flagged else label


# the groups that form a scale (memorization low..high, ES by distance); mix and the rest follow
SCALES = {"memorization": ["low", "mid", "high"], "es": [f"g{i}" for i in range(15)]}


def on_scale(kind, group):
    return group.split(" ")[0] in SCALES.get(kind, [])


def group_position(kind, group):
    scale = SCALES.get(kind, [])
    return scale.index(group.split(" ")[0]) if on_scale(kind, group) else len(scale)


def row_order(method, kind, group):
    return method, kind, group_position(kind, group), group


def fmt(value, ci=None, digits=3):
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text + (" ± n/a" if ci is None else f" ± {ci:.{digits}f}")


def to_csv(rows, fields):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def seeds_cell(row):
    return f"{row['n_seeds']}" + (f" (+{row['n_diverged']} diverged)" if row["n_diverged"] else "")


def figure_cell(row, column):
    """mean ± CI half-width: accuracies and their gaps in % with 2 decimals, scores with 3."""
    percent = column in ACC_SETS or column.endswith("_gap") and "mia" not in column
    return fmt(row[column], row[f"{column}_ci"], 2 if percent else 3)


def to_markdown(rows, columns, titles):
    head = ["method", "forget set", "group", "seeds"] + [titles.get(c, c) for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [marked(r["method"], r["no_effect"]), r["kind"], r["group"], seeds_cell(r)]
        cells += [figure_cell(r, c) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if any(r["original"] for r in rows):
        lines += ["", NO_EFFECT_NOTE]
    return "\n".join(lines) + "\n"


def table_fields(columns):
    """The columns of tow.csv / tow_mia.csv: the row's labels, then each figure and its CI."""
    return (["method", "kind", "group", "n_seeds", "n_diverged", "no_effect"]
            + [f"{c}{s}" for c in columns for s in ("", "_ci")])


# RUM's results.csv: the score's interval first, then these figures with their CI half-widths
RESULT_FIGURES = {"retain": "retain", "forget": "forget", "test": "test", "val": "val",
                  "mia_confidence": "MIA_confidence"}


def results_fields(score):
    return (["method", "kind", "group"] + [score + s for s in ("", "_ci_margin", "_ci_lower", "_ci_upper")]
            + [f"{name}{s}" for name in RESULT_FIGURES.values() for s in ("", "_ci")] + ["n", "n_diverged"])


def results_rows(rows, score):
    """RUM's results.csv rows (one per group): `score` with its t-interval as margin, lower and
    upper bound (empty for one seed), then accuracies and the SVC MIA confidence with margins."""
    out = []
    for r in rows:
        mean, margin = r[score], r[f"{score}_ci"]
        bounded = mean is not None and margin is not None
        row = {"method": r["method"], "kind": r["kind"], "group": r["group"], score: mean,
               f"{score}_ci_margin": margin, f"{score}_ci_lower": mean - margin if bounded else None,
               f"{score}_ci_upper": mean + margin if bounded else None,
               "n": r["n_seeds"], "n_diverged": r["n_diverged"]}
        for column, name in RESULT_FIGURES.items():
            row[name], row[f"{name}_ci"] = r[column], r[f"{column}_ci"]
        out.append(row)
    return out


AXIS = {"memorization": "memorization group", "es": "ES group"}
AXIS_NOTE = {"es": " (by distance to the embedding centroid)"}
MARKERS = "osD^vP*Xph<>"


def plot_by_group(rows, kind, column, path, ylabel, subtitle=""):
    """`column` over the groups of one forget-set kind, one series per method variant (mean and
    95% t-interval). Series get their own marker and a small x offset so that error bars do not
    hide each other; the y-range fits the data; the legend sits right of the axes. None when no
    row has a value."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r["kind"] == kind and r[column] is not None]
    if not rows:
        return None
    groups = sorted({r["group"] for r in rows}, key=lambda g: (group_position(kind, g), g))
    methods = sorted({r["method"] for r in rows})
    spread = min(0.5, 0.12 * len(methods))  # x range of the series around a group's tick
    legend_width = 0.3 + 0.075 * max(map(len, methods))  # inches: the legend sits beside the axes
    width = min(12, max(5.5, 2.5 + 0.6 * len(groups) + legend_width))
    fig, ax = plt.subplots(figsize=(width, 3.8), layout="constrained")
    for i, method in enumerate(methods):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: groups.index(r["group"]))
        offset = (i / (len(methods) - 1) - 0.5) * spread if len(methods) > 1 else 0.0
        xs, ys = [groups.index(r["group"]) + offset for r in mine], [r[column] for r in mine]
        bars = ax.errorbar(xs, ys, yerr=[r[f"{column}_ci"] or 0 for r in mine], linestyle="none",
                           marker=MARKERS[i % len(MARKERS)], markersize=5, capsize=3, label=method)
        # a line only along the scale: `mix` is not a step beyond its last group
        scale = [(x, y) for x, y, r in zip(xs, ys, mine) if on_scale(kind, r["group"])]
        if len(scale) > 1:
            ax.plot(*zip(*scale), color=bars.lines[0].get_color(), linewidth=1, alpha=0.6)
    ax.set_ylim(*fitted_range(rows, column))
    ax.set_xticks(range(len(groups)), [g.replace(" ", "\n", 1) for g in groups])  # group over size
    ax.set_xlabel(AXIS[kind] + AXIS_NOTE.get(kind, ""))
    ax.set_ylabel(f"{ylabel} (mean ± 95% CI)")
    ax.set_title(f"{ylabel} by {AXIS[kind]}" + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    return write_png(path, fig, dpi=120)


def fitted_range(rows, column, margin=0.08):
    """(low, high) around every mean and interval, widened by `margin` of the span (or of the
    value when all are equal), so that nothing touches the frame."""
    lows = [r[column] - (r[f"{column}_ci"] or 0) for r in rows]
    highs = [r[column] + (r[f"{column}_ci"] or 0) for r in rows]
    low, high = min(lows), max(highs)
    pad = margin * ((high - low) or abs(high) or 1.0)
    return low - pad, high + pad


# ---- generated sections of a results file (docs/results.md) ------------------------------------

RESULTS_HEAD = "# Results\n\nTables generated from measured runs; every number below comes from a metrics.json.\n"


def provenance(command, seconds, runs=None, save_dir=None):
    """The first line of every generated section: the command, the date, the machine and the wall
    time, and (when given) how many runs in which folder, with their seeds."""
    import os
    import platform
    import time
    took = f"{seconds:,.0f} s wall time" if seconds is not None else "wall time not recorded"
    line = (f"Command: `{command}` on {time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} CPU "
            f"cores; {took})")
    if runs is not None:
        seeds = sorted({m["seed"] if "seed" in m else m["config"]["seed"] for m in runs})
        line += f", from {len(runs)} runs in `{save_dir}` (seeds {', '.join(map(str, seeds))})"
    return line + "."


def section_pattern(heading):
    """`heading` and its text, up to the next heading of its level or above (from level 2: a
    `# ` line inside a section is a shell comment in a code block, not the file's title)."""
    level = len(heading) - len(heading.lstrip("#"))
    return re.compile(rf"^{re.escape(heading)}\n.*?(?=^#{{2,{level}}} |\Z)", re.S | re.M)


def section_of(text, heading):
    """The section under `heading` in `text` (heading line included), or None."""
    found = section_pattern(heading).search(text)
    return None if found is None else found.group(0)


def replace_section(text, section, heading):
    """`text` with its `heading` section replaced by `section` (which starts with that heading), or
    with `section` appended; every other section untouched."""
    pattern = section_pattern(heading)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    if not text.strip():
        text = RESULTS_HEAD
    return text.rstrip("\n") + "\n\n" + section
