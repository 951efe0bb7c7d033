"""Tables of the RUM experiment from the runs' metrics.json files.

  python scripts/rum_table.py --save_dir runs/rum-experiment/digits --title digits [--figures DIR]

Full RUM's plan (method and setting per memorization part, `none` for a part left alone) is not
chosen here: scripts/strength_table.py rum_flags chooses it by validation ToW in the strength search,
on seeds apart from the ones these tables report; the table names the plan its runs recorded.
`original` (the starting model, not unlearned) is the baseline row of every table.

Comparisons are paired by seed (the same forget set and seed for both sides): RUM^F − Vanilla per
method, and full RUM − the best Vanilla, the best Shuffle and the best RUM^F (best = highest mean
ToW), each as mean and 95% t-interval. Verdict, a fixed rule: full RUM "earns its place" when its
intervals against the best Vanilla and the best Shuffle lie above 0 and the one against the best
RUM^F does not lie below 0; otherwise the line names the comparisons it fails. `--figures DIR`
writes rum_<title>_groups.png (ToW by memorization group per method) and rum_<title>_variants.png
(ToW of Vanilla, Shuffle and RUM^F per method, full RUM as a line) and links them from the section.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.io import write_png  # noqa: E402
from evaluation import aggregate  # noqa: E402

PARTS = ("low", "mid", "high")


def load(save_dir):
    return aggregate.load_runs([Path(save_dir) / "unlearn"])


def memorization_runs(runs, proxy, groups):
    """The main_forget.py runs (no RUM variant) on the memorization groups `groups` of `proxy`."""
    return [m for m in runs if m["forget_set"]["kind"] == "memorization" and "variant" not in m
            and m["forget_set"]["params"]["group"] in groups and m["forget_set"]["params"]["proxy"] == proxy]


def per_group(runs, proxy):
    return aggregate.summarise(memorization_runs(runs, proxy, PARTS), ["tow"])


def full_plan(runs):
    """(label, text) of the folder's full RUM runs: their label in the tables and their plan per
    part, e.g. `low: **none**, mid: **FT** (unlearn_lr 0.1), ...` ((None, None) without any)."""
    plans = {(m["method"], m["config"].get("rum_lrs"), m["config"].get("rum_alphas"))
             for m in runs if m.get("variant") == "rum"}
    if len(plans) > 1:
        raise SystemExit(f"several full RUM plans in one folder ({', '.join(sorted(p[0] for p in plans))}): "
                         "the table compares one")
    if not plans:
        return None, None
    label, lrs, alphas = plans.pop()
    methods = label.split("-", 1)[1].split("+")
    per_flag = {}
    for flag, text in (("unlearn_lr", lrs), ("alpha", alphas)):
        values = (text or "default").split(",")
        per_flag[flag] = values * len(PARTS) if len(values) == 1 else values  # one value: every part's
    parts = []
    for i, (part, method) in enumerate(zip(PARTS, methods)):
        given = [f"{flag} {values[i]}" for flag, values in per_flag.items()
                 if values[i] != "default" and method != "none"]
        parts.append(f"{part}: **{method}**" + (f" ({', '.join(given)})" if given else ""))
    return label, ", ".join(parts)


def rum_rows(runs, proxy):
    """The RUM variants' rows, with `original` on the same `mix` forget set (its baseline)."""
    originals = [m for m in memorization_runs(runs, proxy, ("mix",)) if m["method"] == aggregate.BASELINE]
    return aggregate.summarise([m for m in runs if "variant" in m] + originals,
                               ["tow", "tow_mia", "forget_gap", "retain_gap", "test_gap", "rte"])


def cell(row, col="tow"):
    if row is None or row[col] is None:
        return "—"
    return aggregate.fmt(row[col], row[f"{col}_ci"], 3)


def tow_cell(row):
    """The ToW cell, marked when that row had no effect (see aggregate.NO_EFFECT_NOTE)."""
    return aggregate.marked(cell(row), row is not None and row["no_effect"])


def baseline_row(by_label):
    """`| original | ToW | — ...|`: the untouched model's ToW, in the first figure column only
    (left alone in one go, in chunks or in parts, it is the same model)."""
    base = by_label.get(aggregate.BASELINE)
    return [] if base is None else [f"| {aggregate.BASELINE} | {cell(base)} | — | — | — |"]


def diff_cell(diff):
    mean, low, high, n = diff
    if mean is None:
        return "—"
    return f"{mean:+.3f}" + ("" if low is None else f" [{low:+.3f}, {high:+.3f}]")


def best_of(by_label, variant, methods):
    """The method whose `variant` run has the highest mean ToW, or None."""
    scored = [(by_label[f"{variant}-{m}"]["tow"], m) for m in methods
              if f"{variant}-{m}" in by_label and by_label[f"{variant}-{m}"]["tow"] is not None]
    return max(scored)[1] if scored else None


def rumf_summary(runs, methods, control):
    """RUM^F against `control` (vanilla: the whole set at once; shuffle: three random chunks, the
    same number of steps as RUM^F) per method, counted by the side of its paired interval."""
    sides = {m: aggregate.side_of_zero(aggregate.paired_tow(runs, f"rumf-{m}", f"{control}-{m}")) for m in methods}
    def names(which):
        return ", ".join(m for m, s in sides.items() if s == which) or "none"
    return (f"RUM^F − {control.title()}, paired by seed: interval above 0 for {names('above')}; below 0 for "
            f"{names('below')}; holding 0 for {names('inside')}.")


def verdict(comparisons):
    """The fixed rule of the module docstring over {name: paired diff} of full RUM."""
    fails = [f"not above {name}" for name in ("the best Vanilla", "the best Shuffle")
             if aggregate.side_of_zero(comparisons[name]) != "above"]
    if aggregate.side_of_zero(comparisons["the best RUM^F"]) == "below":
        fails.append("below the best RUM^F")
    if any(aggregate.side_of_zero(d) is None for d in comparisons.values()):
        return "**Verdict: undecided** (fewer than 2 paired seeds in a comparison)."
    if not fails:
        return ("**Verdict: full RUM earns its place** (above the best Vanilla and the best Shuffle, not below "
                "the best RUM^F), as the RUM paper reports.")
    return (f"**Verdict: full RUM does not earn its place here** ({'; '.join(fails)}); the RUM paper reports "
            "it above them.")


def no_effect_note(rows):
    return ["", aggregate.NO_EFFECT_NOTE] if any(r["original"] for r in rows) else []


def table(save_dir, proxy, title, figures=None):
    runs = load(save_dir)
    groups = per_group(runs, proxy)
    full_label, plan = full_plan(runs)
    rows = rum_rows(runs, proxy)
    seeds = max((r["n_seeds"] for r in rows), default=0)
    by_label = {r["method"]: r for r in rows}
    methods = sorted({r["method"].split("-", 1)[1] for r in rows if r["method"].startswith("vanilla-")})
    out = [f"### {title}", "",
           "ToW (mean ± 95% t-interval over seeds; higher is better, 1 = the retrain reference) on one "
           "`--mem mix` forget set, unlearned in one go (Vanilla), in three random chunks (Shuffle), "
           "or in memorization-refined parts low → mid → high with the same method (RUM^F); "
           "`original` is the starting model left as it is. RUM^F − Vanilla: paired by seed, mean "
           "[95% t-interval].", "",
           "| method | Vanilla | Shuffle | RUM^F | RUM^F − Vanilla |", "|---|---|---|---|---|",
           *baseline_row(by_label)]
    for m in methods:
        v, s, f = (by_label.get(f"{k}-{m}") for k in ("vanilla", "shuffle", "rumf"))
        out.append(f"| {m} | {tow_cell(v)} | {tow_cell(s)} | {tow_cell(f)} | "
                   f"{diff_cell(aggregate.paired_tow(runs, f'rumf-{m}', f'vanilla-{m}'))} |")
    full = by_label.get(full_label)
    best = {variant: best_of(by_label, variant, methods) for variant in ("vanilla", "shuffle", "rumf")}
    comparisons = {f"the best {name}": aggregate.paired_tow(runs, full_label, f"{variant}-{best[variant]}")
                   for variant, name in (("vanilla", "Vanilla"), ("shuffle", "Shuffle"), ("rumf", "RUM^F"))}
    out += [*no_effect_note(rows),
            "", f"Full RUM with the method and setting per part chosen by the strength search "
                f"(validation ToW, other seeds; {plan}): ToW {tow_cell(full)}, ToW-MIA {cell(full, 'tow_mia')}, RTE {cell(full, 'rte')}.", "",
            "| full RUM − | method | paired difference of ToW | seeds |", "|---|---|---|---|"]
    for (name, diff), variant in zip(comparisons.items(), ("vanilla", "shuffle", "rumf")):
        out.append(f"| {name} | {best[variant] or '—'} | {diff_cell(diff)} | {diff[3]} |")
    out += ["", rumf_summary(runs, methods, "vanilla"), "", rumf_summary(runs, methods, "shuffle"),
            "(Shuffle unlearns the same set in as many steps as RUM^F, in random order: where RUM^F beats Vanilla "
            "but not Shuffle, the gain comes from the splitting, not from the memorization order.)", "",
            verdict(comparisons)]
    if figures is not None:
        out += ["", *figure_links(figures, title, groups, rows, methods, full)]
    out += ["", "Per-group ToW at the data set's default strengths (stand-alone forget sets of one "
                "memorization group):", "",
            "| method | low | mid | high |", "|---|---|---|---|"]
    for m in sorted({r["method"] for r in groups}, key=lambda m: (m != aggregate.BASELINE, m)):
        cells = [tow_cell(next((r for r in groups if r["method"] == m and r["group"].startswith(p)), None))
                 for p in PARTS]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    out += no_effect_note(groups)
    diverged = sum(r["n_diverged"] for r in rows + groups)
    out += ["", f"{seeds} seeds per cell; {diverged} diverged runs (counted, not averaged)."]
    return "\n".join(out) + "\n"


def figure_links(folder, title, groups, rows, methods, full):
    """Both figures into `folder` (next to the results file), as Markdown image lines."""
    folder = Path(folder)
    stem = f"rum_{title}".replace(" ", "_")
    links = []
    if aggregate.plot_by_group(groups, "memorization", "tow", folder / f"{stem}_groups.png", "ToW",
                               f"{title}: each method on stand-alone memorization groups"):
        links.append(f"![ToW by memorization group, {title}](figures/{stem}_groups.png)")
    if variants_figure(rows, methods, full, folder / f"{stem}_variants.png", title):
        links.append(f"![ToW of Vanilla, Shuffle and RUM^F, {title}](figures/{stem}_variants.png)")
    return links


def variants_figure(rows, methods, full, path, title):
    """Per method, ToW of Vanilla, Shuffle and RUM^F (mean ± 95% CI); full RUM and `original` as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by_label = {r["method"]: r for r in rows}
    if not methods:
        return None
    fig, ax = plt.subplots(figsize=(max(5.5, 1.0 + 0.9 * len(methods)), 3.8), layout="constrained")
    for i, variant in enumerate(("vanilla", "shuffle", "rumf")):
        found = [(j, by_label[f"{variant}-{m}"]) for j, m in enumerate(methods)
                 if f"{variant}-{m}" in by_label and by_label[f"{variant}-{m}"]["tow"] is not None]
        ax.errorbar([j + (i - 1) * 0.22 for j, _ in found], [r["tow"] for _, r in found],
                    yerr=[r["tow_ci"] or 0 for _, r in found], linestyle="none", capsize=3,
                    marker=aggregate.MARKERS[i % len(aggregate.MARKERS)], label={"rumf": "RUM^F"}.get(variant, variant.title()))
    for row, name, style in ((full, "full RUM", "-"), (by_label.get(aggregate.BASELINE), "original", ":")):
        if row is not None and row["tow"] is not None:
            ax.axhline(row["tow"], color="black", linestyle=style, linewidth=1, label=name)
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel("ToW (mean ± 95% CI)")
    ax.set_title(f"{title}: one `mix` forget set, by method and variant", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    return write_png(path, fig, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_dir", required=True)
    p.add_argument("--mem_proxy", default="heldout")
    p.add_argument("--title", default="RUM")
    p.add_argument("--figures", default=None, help="write the section's two figures into this folder")
    args = p.parse_args()
    print(table(args.save_dir, args.mem_proxy, args.title, args.figures))


if __name__ == "__main__":
    main()
