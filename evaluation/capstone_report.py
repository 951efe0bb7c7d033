"""The `## Capstone experiment` section of docs/results.md, from measured runs of
scripts/capstone_sweep.sh: one table per forget-set kind (method x add-on, mean ± 95% t-interval
over seeds), a ToW / ToW-MIA figure and a t-SNE figure.

    python -m evaluation.capstone_report --save_dir runs/capstone [--results docs/results.md]

Only that section of the results file is replaced; the rest of the file is kept as it is.
"""
import math
import shutil
from pathlib import Path

from engine import cli
from engine.errors import UserError, cli_main
from engine.io import write_png, write_text
from . import aggregate

SECTION = "## Capstone experiment"
ADDONS = [("none", "none"), ("simple", "none"), ("contrastive", "none"), ("none", "simple"),
          ("none", "arpl"), ("none", "opengan")]
ADDON_LABEL = {("none", "none"): "—", ("simple", "none"): "SSL simple",
               ("contrastive", "none"): "SSL contrastive", ("none", "simple"): "aug simple",
               ("none", "arpl"): "aug ARPL", ("none", "opengan"): "aug OpenGAN"}
METHOD_ORDER = [aggregate.BASELINE, "bad-teaching", "SCRUB", "GA", "SalUn"]
COLUMNS = [("forget", "forget %", 2), ("retain", "retain %", 2), ("test", "test %", 2),
           ("mia_confidence", "MIA", 3), ("tow", "ToW", 3), ("tow_mia", "ToW-MIA", 3),
           ("geo_metric", "geo", 2), ("wall_time_s", "time s", 1)]
KIND_TITLE = {"random": "Random forgetting", "class": "Class-wise forgetting"}


def addon_of(m):
    c = m["config"]
    return c.get("ssl", "none") or "none", c.get("augment_forget", "none") or "none"


def values_of(m):
    v = aggregate.run_values(m)
    if m.get("geo_metric") is not None:
        v["geo_metric"] = m["geo_metric"]
    return v


def summarise(runs):
    """{(kind, method, addon): row} with mean/ci per column, seeds and diverged counts."""
    groups = {}
    for m in runs:
        groups.setdefault((m["forget_set"]["kind"], m["method"], addon_of(m)), []).append(m)
    rows = {}
    for key, members in groups.items():
        ok = [m for m in members if not m.get("diverged")]
        row = {"n": len(ok), "diverged": len(members) - len(ok),
               "group": aggregate.group_label(members[0]["forget_set"])}
        vals = [values_of(m) for m in ok]
        for col, _, _ in COLUMNS:
            xs = [v[col] for v in vals if v.get(col) is not None and math.isfinite(v[col])]
            row[col] = aggregate.t_interval(xs) if xs else None
        rows[key] = row
    return rows


def cell(stat, digits):
    if stat is None:
        return "—"
    mean, lo, hi = stat
    return f"{mean:.{digits}f}" + ("" if lo is None else f" ± {(hi - lo) / 2:.{digits}f}")


def no_effect(row, baseline):
    """Whether a row's forget accuracy and ToW lie inside the baseline row's t-intervals."""
    if baseline is None or row is baseline:
        return False
    means = {f: row[f][0] if row[f] else None for f in aggregate.NO_EFFECT_FIGURES}
    intervals = {f: baseline[f][1:] if baseline[f] and baseline[f][1] is not None else None
                 for f in aggregate.NO_EFFECT_FIGURES}
    return aggregate.no_effect(means, intervals)


def table(rows, kind):
    """The Markdown table of one forget-set kind, `original` first, and the no-effect note when
    there is an `original` row."""
    baseline = rows.get((kind, aggregate.BASELINE, ADDONS[0]))
    head = ["method", "add-on", "seeds"] + [t for _, t, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    methods = sorted({k[1] for k in rows if k[0] == kind},
                     key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m))
    for method in methods:
        for addon in ADDONS + sorted({k[2] for k in rows if k[:2] == (kind, method)} - set(ADDONS)):
            row = rows.get((kind, method, addon))
            if row is None:
                continue
            seeds = str(row["n"]) + (f" (+{row['diverged']} diverged)" if row["diverged"] else "")
            cells = [aggregate.marked(method, no_effect(row, baseline)),
                     ADDON_LABEL.get(addon, "/".join(addon)), seeds]
            cells += [cell(row[c], d) for c, _, d in COLUMNS]
            lines.append("| " + " | ".join(cells) + " |")
    if baseline is not None:
        lines += ["", aggregate.NO_EFFECT_NOTE]
    return "\n".join(lines)


def tow_figure(rows, kinds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    metrics = [("tow", "ToW"), ("tow_mia", "ToW-MIA")]
    fig, axes = plt.subplots(len(metrics), len(kinds), figsize=(5.5 * len(kinds), 6.5), squeeze=False)
    width = 0.8 / len(ADDONS)
    for j, kind in enumerate(kinds):
        methods = [m for m in METHOD_ORDER if any(k[:2] == (kind, m) for k in rows)]
        for i, (col, label) in enumerate(metrics):
            ax = axes[i][j]
            for a, addon in enumerate(ADDONS):
                means, errs = [], []
                for method in methods:
                    stat = (rows.get((kind, method, addon)) or {}).get(col)
                    means.append(stat[0] if stat else np.nan)
                    errs.append((stat[2] - stat[1]) / 2 if stat and stat[1] is not None else 0)
                ax.bar(np.arange(len(methods)) + (a - (len(ADDONS) - 1) / 2) * width, means, width,
                       yerr=errs, capsize=2, label=ADDON_LABEL[addon])
            ax.set_xticks(np.arange(len(methods)), methods)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel(label)
            ax.set_title(f"{KIND_TITLE.get(kind, kind)}: {label}", fontsize=10)
    axes[0][-1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    write_png(path, fig)


def tsne_figures(runs, folder):
    """Copy the t-SNE plots the sweep asked for (first seed) next to results.md."""
    out = []
    for m in sorted(runs, key=lambda m: (m["seed"], m["method"], ADDONS.index(addon_of(m))
                                         if addon_of(m) in ADDONS else 99)):
        src = Path(m["_path"]).parent / "tsne.png"
        if not src.exists() or m["seed"] != min(r["seed"] for r in runs):
            continue
        name = f"capstone_tsne_{m['method']}_{m['forget_set']['kind']}_" \
               f"{ADDON_LABEL.get(addon_of(m), 'x').replace(' ', '-').replace('—', 'none')}.png"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / name)
        out.append((m, name))
    return out


def render(runs, save_dir, results_path, command, seconds):
    rows = summarise(runs)
    kinds = [k for k in ("random", "class") if any(r[0] == k for r in rows)]
    fig_dir = results_path.parent / "figures"
    tow_figure(rows, kinds, fig_dir / "capstone_tow.png")
    tsne = tsne_figures(runs, fig_dir)
    parts = [SECTION, "", aggregate.provenance(command, seconds, runs, save_dir), "",
             "bad-teaching, SCRUB, NegGrad (`GA`) and SalUn, each without an add-on (—), with a "
             "self-supervised term (`--ssl simple|contrastive`, SimCLR model from `simclr.py`) or with "
             "forget-set augmentation (`--augment_forget simple|arpl|opengan`), after `original` (the "
             "starting model, not unlearned: the baseline). Accuracies in %, MIA = SVC "
             "attack on confidence (fraction of forget examples judged non-members), ToW / ToW-MIA against "
             "the model retrained without the forget set, geo = sqrt(|forget − a0|·|test − a0|) with a0 "
             "the original model's test accuracy (docs/reference.md), time = the method's wall time. "
             "Mean ± 95% t-interval over seeds.", ""]
    for kind in kinds:
        group = next(r["group"] for k, r in rows.items() if k[0] == kind)
        parts += [f"### {KIND_TITLE.get(kind, kind)} ({group})", "", table(rows, kind), ""]
    parts += ["![ToW and ToW-MIA by method and add-on](figures/capstone_tow.png)", ""]
    for m, name in tsne:
        parts += [f"t-SNE of forget / retain / test features before and after {m['method']} "
                  f"({m['forget_set']['name']}, add-on {ADDON_LABEL.get(addon_of(m), '?')}, seed {m['seed']}):",
                  "", f"![t-SNE]({'figures/' + name})", ""]
    text = results_path.read_text() if results_path.exists() else ""
    write_text(results_path, aggregate.replace_section(text, "\n".join(parts) + "\n", SECTION))
    return rows


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--save_dir", default="runs/capstone", help="run folder of the sweep")
    p.add_argument("--results", default=None,
                   help="results file to update (default <save_dir>/results.md; the repository's "
                        "docs/results.md only when named)")
    p.add_argument("--tag_prefix", default="cap-", help="tags of the sweep's runs")
    p.add_argument("--command", default="scripts/capstone_sweep.sh", help="shown in the section")
    p.add_argument("--seconds", type=float, default=None, help="sweep duration, shown in the section")
    return p


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    folder = Path(args.save_dir) / "unlearn"
    if not folder.is_dir():
        raise UserError(f"no unlearning runs under {folder}; run scripts/capstone_sweep.sh first")
    runs = [m for m in aggregate.load_runs([folder])
            if str(m["config"].get("tag") or "").startswith(args.tag_prefix)]
    if not runs:
        raise UserError(f"no runs tagged {args.tag_prefix}* under {folder}")
    results = Path(args.results) if args.results else Path(args.save_dir) / "results.md"
    render(runs, args.save_dir, results, args.command, args.seconds)
    print(f"{len(runs)} runs -> {results} ({SECTION[3:]}), figures in {results.parent / 'figures'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
