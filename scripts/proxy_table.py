"""The proxy experiment (the scalability paper): can a cheap memorization proxy stand in for the
heldout estimate in RUM? Per score (the heldout estimate itself and each proxy): its Spearman with
the heldout estimate, its cost, RUM^F's and Vanilla's ToW when the `--mem mix` forget set and its
low / mid / high parts come from that score, and each method's forget accuracy on that score's
low / mid / high groups; `original` (the starting model, not unlearned) is the baseline row.

  python scripts/proxy_table.py --save_dir runs/proxy-experiment               # -> <save_dir>/results.md
  python scripts/proxy_table.py --save_dir runs/proxy-experiment --write_docs  # -> docs/results.md

--save_dir is one data set's run folder or a folder of them (scripts/proxy_experiment.sh writes
<root>/<dataset>/): one table and one figure a data set.

Verdict (a fixed rule): a score's gain is RUM^F's minus Vanilla's ToW, paired by seed over the
seeds both finished, with its 95% t-interval: `gain` when the interval lies above 0, `loss` below 0,
`none` when it holds 0 (undecided under two seeds). A proxy keeps RUM's gain when the heldout
estimate and the proxy both have a gain, loses it when the heldout estimate has one and the proxy
none, reverses it when the proxy has a loss (VERDICTS has every case).
"""
import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.io import read_json, write_png, write_text  # noqa: E402
from evaluation import aggregate  # noqa: E402

SECTION = "## Proxy experiment"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
HELDOUT = "heldout"
ORDER = (HELDOUT, "confidence", "max_conf", "entropy", "bi_acc", "ho_ret", "curvature")
PARTS = ("low", "mid", "high")

# (the heldout estimate's gain, the proxy's gain) -> the verdict on the proxy
VERDICTS = {
    ("gain", "gain"): "keeps RUM's gain",
    ("gain", "none"): "loses it (no gain established)",
    ("gain", "loss"): "reverses it (RUM^F below Vanilla)",
    ("none", "gain"): "gains where the heldout estimate does not",
    ("none", "none"): "no gain, nor has the heldout estimate",
    ("none", "loss"): "RUM^F below Vanilla (heldout: no gain)",
    ("loss", "gain"): "gains where the heldout estimate loses",
    ("loss", "none"): "no loss, where the heldout estimate loses",
    ("loss", "loss"): "RUM^F below Vanilla, as with the heldout estimate",
}
REFERENCE = {"gain": "the reference: RUM^F beats Vanilla", "none": "the reference: no gain established",
             "loss": "the reference: RUM^F below Vanilla"}
UNDECIDED = "undecided: fewer than 2 paired seeds"


# ---- what the folders hold -------------------------------------------------------------------

def dataset_folders(save_dir):
    """The run folders that hold a heldout estimate: `save_dir` itself, else its sub-folders."""
    root = Path(save_dir)
    if (root / "memorization" / "heldout.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "memorization" / "heldout.json").is_file()) \
        if root.is_dir() else []


def score_costs(save):
    """{score: (wall_time_s, scope)} from the .json of every score file; scope `events` marks the
    proxies averaged from the learning events the original's training recorded."""
    out = {}
    for path in sorted((save / "memorization").glob("*.json")):
        if path.with_suffix(".npz").is_file():
            record = read_json(path, "score record")
            out[path.stem] = (record.get("wall_time_s"), record.get("wall_time_scope"))
    return out


def spearman_with_heldout(save):
    """{score: Spearman of its memorization-oriented values (sign × raw) with the heldout estimate},
    from `python -m memorization report`; oriented so that agreeing with the heldout estimate is
    positive for every proxy (raw confidence correlates negatively)."""
    out = {HELDOUT: 1.0}
    path = save / "memorization" / "report" / "correlations.csv"
    if path.is_file():
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row["spearman"]:
                    out[row["proxy"]] = int(row["memorization_sign"]) * float(row["spearman"])
    return out


def original_training_time(save):
    path = save / "original" / "metrics.json"
    return read_json(path, "original model's metrics").get("wall_time_s") if path.is_file() else None


def runs_by_score(save):
    """{score: runs on the memorization forget sets it built} (main_forget.py and main_rum.py)."""
    folder = save / "unlearn"
    out = {}
    for m in aggregate.load_runs([folder]) if folder.is_dir() else []:
        if m["forget_set"]["kind"] == "memorization":
            out.setdefault(m["forget_set"]["params"]["proxy"], []).append(m)
    return out


def ordered(scores):
    return sorted(scores, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))


# ---- RUM^F against Vanilla, paired by seed -----------------------------------------------------

GAIN_STATE = {"above": "gain", "below": "loss", "inside": "none", None: None}


def gain_state(gain):
    """`gain` / `loss` when RUM^F − Vanilla's interval excludes 0 on that side, `none` when it
    holds 0; None without an interval."""
    return None if gain is None else GAIN_STATE[aggregate.side_of_zero(gain)]


def verdict(score, state, heldout_state):
    if state is None or (score != HELDOUT and heldout_state is None):
        return UNDECIDED
    return REFERENCE[state] if score == HELDOUT else VERDICTS[(heldout_state, state)]


def rum_methods(runs_of_scores):
    """The methods that ran as Vanilla under any score (RUM^F's control)."""
    return sorted({m["method"].split("-", 1)[1] for runs in runs_of_scores.values() for m in runs
                   if m.get("variant") == "vanilla"})


# ---- one data set ------------------------------------------------------------------------------

def gain_cell(gain):
    if gain is None or not gain[3]:
        return "—"
    mean, low, high, seeds = gain
    half = None if low is None else (high - low) / 2
    return f"{mean:+.3f} ± " + ("n/a" if half is None else f"{half:.3f}") + f" ({seeds} seeds)"


def short(x):
    """Three significant digits, no exponent above 1e-3 (costs span milliseconds to hours)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}" if abs(x) >= 1e-3 else f"{x:.1e}"


def cost_cells(score, costs):
    """(seconds, ratio to the heldout estimate's), `*` on the event proxies (see event_note)."""
    seconds, scope = costs.get(score, (None, None))
    heldout = costs.get(HELDOUT, (None, None))[0]
    if seconds is None:
        return "—", "—"
    mark = " \\*" if scope == "events" else ""
    return short(seconds) + mark, short(seconds / heldout) if heldout else "—"


def row_of(rows, method, part):
    return next((r for r in rows if r["method"] == method and r["group"].startswith(part)), None)


def cell(row, column, digits):
    """Mean ± 95% t-interval of a summary row's `column`, marked when the row had no effect."""
    return "—" if row is None or row[column] is None else \
        aggregate.marked(aggregate.fmt(row[column], row[f"{column}_ci"], digits), row["no_effect"])


def tow_cell(row):
    return cell(row, "tow", 3)


def forget_cell(row):  # accuracy in %
    return cell(row, "forget", 1)


def score_lines(score, rows, gains, spearman, costs, heldout_states):
    """The lines of one score (`rows`: its runs summarised, `gains`: {method: paired gain}):
    `original` (its ToW on the mix set stands in both ToW columns: left alone in one go or in parts,
    it is the same model), then each method."""
    rho = spearman.get(score)
    head = [score, "—" if rho is None else f"{rho:+.3f}", *cost_cells(score, costs)]
    original = row_of(rows, aggregate.BASELINE, "mix")
    lines = [[*head, aggregate.BASELINE, tow_cell(original), tow_cell(original), "—",
              *(forget_cell(row_of(rows, aggregate.BASELINE, p)) for p in PARTS), ""]]
    for method, gain in gains.items():
        lines.append(["", "", "", "", method, tow_cell(row_of(rows, f"rumf-{method}", "mix")),
                      tow_cell(row_of(rows, f"vanilla-{method}", "mix")), gain_cell(gain),
                      *(forget_cell(row_of(rows, method, p)) for p in PARTS),
                      verdict(score, gain_state(gain), heldout_states.get(method))])
    return lines


def answer(method, gains, costs):
    """The plain answer for one method: which proxies keep the heldout estimate's gain, at what cost."""
    question = f"**Does a cheap proxy keep RUM's gain ({method})?**"
    held = gain_state(gains.get(HELDOUT))
    if held != "gain":
        return (f"{question} There is no gain to keep here: the heldout estimate's own RUM^F − Vanilla is "
                f"{gain_cell(gains.get(HELDOUT))}.")
    proxies = [s for s in gains if s != HELDOUT]
    kept = [f"{s} (cost {cost_cells(s, costs)[1]}× the heldout estimate's)" for s in proxies
            if gain_state(gains[s]) == "gain"]
    others = [f"{s} {verdict(s, gain_state(gains[s]), held)}" for s in proxies if gain_state(gains[s]) != "gain"]
    paper = (" The scalability paper reports that cheap proxies keep it; " + ("so here." if kept and not others else
             "not for every proxy here." if kept else "not so here."))
    return (f"{question} " + (f"Yes, kept by {', '.join(kept)}" if kept else "No proxy keeps it")
            + (f"; {'; '.join(others)}" if others else "") + "." + paper)


def idle_vanilla_note(method, rows):
    """Where Vanilla did nothing measurable, RUM^F's gain over it may be RUM^F's extra work (the
    method applied once a part, three times in all) rather than the memorization order: say where."""
    idle = [s for s, rs in rows.items() if any(r["method"] == f"vanilla-{method}" and r["no_effect"] for r in rs)]
    if not idle:
        return None
    return (f"Caveat: Vanilla {method} had no measurable effect (∅) on the `mix` set of {len(idle)} of {len(rows)} "
            f"scores ({', '.join(idle)}). RUM^F applies {method} once a part, three times in all, so part of its gain "
            "there may be that extra work rather than the memorization order; Shuffle (three random chunks, "
            "`scripts/sweep_rum.sh --variants shuffle`) is the control for that, and this experiment does not run it.")


def dataset_section(save, figure_dir, title):
    runs = runs_by_score(save)
    costs, spearman = score_costs(save), spearman_with_heldout(save)
    methods = rum_methods(runs)
    scores = ordered(set(runs) | set(costs))
    gains = {s: {m: aggregate.paired_tow(runs.get(s, []), f"rumf-{m}", f"vanilla-{m}") for m in methods}
             for s in scores}
    heldout_states = {m: gain_state(gains.get(HELDOUT, {}).get(m)) for m in methods}
    out = [f"### {title}", "",
           "| score | Spearman with heldout | cost s | cost ÷ heldout's | method | ToW RUM^F | ToW Vanilla | "
           "RUM^F − Vanilla (paired) | forget low | forget mid | forget high | verdict |",
           "|" + "---|" * 12]
    rows = {s: aggregate.summarise(runs.get(s, []), ["tow", "forget"]) for s in scores}
    for score in scores:
        lines = score_lines(score, rows[score], gains[score], spearman, costs, heldout_states)
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
    all_rows = [r for score in scores for r in rows[score]]
    out += [*(["", aggregate.NO_EFFECT_NOTE] if any(r["original"] for r in all_rows) else []),
            "", event_note(save, costs), ""]
    for method in methods:
        out += [answer(method, {s: gains[s][method] for s in scores}, costs), ""]
        note = idle_vanilla_note(method, rows)
        out += [note, ""] if note else []
    diverged = sum(r["n_diverged"] for r in all_rows)
    seeds = max((r["n_seeds"] for r in all_rows), default=0)
    figure = tow_cost_figure(scores, rows, methods, costs, figure_dir / f"proxy_{title}.png", title)
    out += [f"Up to {seeds} seeds a cell; {diverged} diverged runs (counted, not averaged)."]
    if figure is not None:
        out += ["", f"![ToW of RUM^F and Vanilla per score, and each score's cost ({title})]"
                    f"(figures/{figure.name})"]
    return "\n".join(out) + "\n"


def event_note(save, costs):
    events = [s for s in ordered(costs) if costs[s][1] == "events"]
    if not events:
        return ""
    trained = original_training_time(save)
    training = "training the original" + (f" ({short(trained)} s)" if trained else "")
    return (f"\\* {', '.join(events)}: the time to average the learning events that the original's training "
            f"recorded (from its own forward passes, no extra pass): their whole cost beyond {training}, which "
            "every method needs anyway.")


# RUM^F filled, Vanilla hollow, side by side at a score's tick
VARIANT_STYLE = {"rumf": ("RUM^F", None, -0.06), "vanilla": ("Vanilla", "none", 0.06)}


def tow_cost_figure(scores, rows, methods, costs, path, title):
    """Left: ToW of RUM^F and Vanilla per score (`rows`: each score's summary rows), mean ± 95%
    t-interval; right: each score's cost on a log axis. None when no score has a RUM^F run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not any(row_of(rows[s], f"rumf-{m}", "mix") for s in scores for m in methods):
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained",
                                      gridspec_kw={"width_ratios": [3, 2]})
    ticks = list(range(len(scores)))
    for i, method in enumerate(methods):
        for variant, (name, face, shift) in VARIANT_STYLE.items():
            found = [(k, row_of(rows[s], f"{variant}-{method}", "mix")) for k, s in enumerate(scores)]
            found = [(k + shift + 0.2 * i, r) for k, r in found if r is not None and r["tow"] is not None]
            if found:
                left.errorbar([x for x, _ in found], [r["tow"] for _, r in found],
                              yerr=[r["tow_ci"] or 0 for _, r in found], linestyle="none", capsize=3,
                              marker=aggregate.MARKERS[i % len(aggregate.MARKERS)], markerfacecolor=face,
                              color=f"C{i}", label=f"{name} {method}")
    left.set_xticks(ticks, scores, rotation=30, ha="right")
    left.set_ylabel("ToW (mean ± 95% CI)")
    left.set_title(f"{title}: ToW on the mix forget set each score builds", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8, frameon=False)
    timed = [(k, costs[s][0]) for k, s in enumerate(scores) if costs.get(s, (None, None))[0]]
    right.bar([k for k, _ in timed], [c for _, c in timed], color="grey")
    right.set_yscale("log")
    right.set_xticks(ticks, scores, rotation=30, ha="right")
    right.set_ylabel("cost (s, log scale)")
    right.set_title("compute time of the score", fontsize=10)
    return write_png(path, fig, dpi=120)


# ---- the section -------------------------------------------------------------------------------

def section(folders, results, command, seconds):
    """The whole `## Proxy experiment` section; figures go to <results' folder>/figures/."""
    parts = [SECTION, "", "<!-- generated by scripts/proxy_table.py (scripts/proxy_experiment.sh); do not edit -->", "",
             aggregate.provenance(command, seconds), "",
             "Per score (the heldout estimate, then each proxy): Spearman of its memorization-oriented values "
             "with the heldout estimate (`python -m memorization report`), its compute time (the `wall_time_s` of "
             "its score file) and that time ÷ the heldout estimate's; ToW of RUM^F and of Vanilla on the "
             "`--mem mix` forget set that score builds (refined into low / mid / high by the same score), "
             "RUM^F − Vanilla paired by seed, and the forget accuracy (%) of each method on the score's "
             "low / mid / high groups. Mean ± 95% t-interval over seeds. `original` is the starting model, "
             "not unlearned.", "",
             "Verdict rule: a score's gain is RUM^F − Vanilla over the seeds both ran; `gain` when its 95% "
             "t-interval lies above 0, `loss` below, `none` when it holds 0. A proxy **keeps RUM's gain** when "
             "the heldout estimate and the proxy both have a gain, **loses it** when the heldout estimate has "
             "one and the proxy none, **reverses it** when the proxy has a loss.", ""]
    for folder in folders:
        parts.append(dataset_section(folder, results.parent / "figures", folder.name))
    return "\n".join(parts)


def write_section(folders, results, command, seconds):
    text = results.read_text() if results.exists() else ""
    body = section(folders, results, command, seconds)
    write_text(results, aggregate.replace_section(text, body, SECTION))
    return body


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_dir", required=True, help="one data set's run folder, or a folder of them")
    p.add_argument("--write_docs", action="store_true", help="write docs/results.md (default <save_dir>/results.md)")
    p.add_argument("--command", default=None, help="shown in the section (default: this call)")
    p.add_argument("--seconds", type=float, default=None, help="the experiment's wall time, shown in the section")
    args = p.parse_args(argv)
    folders = dataset_folders(args.save_dir)
    if not folders:
        raise SystemExit(f"no heldout estimate under {args.save_dir}: run scripts/proxy_experiment.sh first")
    results = DOCS if args.write_docs else Path(args.save_dir) / "results.md"
    command = args.command or "scripts/proxy_table.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(write_section(folders, results, command, args.seconds) + f"\n-> {results}")


if __name__ == "__main__":
    main()
