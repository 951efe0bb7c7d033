"""The validation-split search of the methods' strengths (scripts/sweep_strength.sh runs it):

  python scripts/strength_table.py grid --methods "FT GA"          # one line per grid point
  python scripts/strength_table.py choose --save_dir runs/strength-digits [--write_defaults] [--write_docs]
  python scripts/strength_table.py rum_flags --save_dir runs/strength-digits   # full RUM's per-part plan

Grid (GRID): for each method a few values of the flags that set how hard it pushes (learning rate,
or alpha where that is its strength), the papers' setting first; epochs are never searched, so a
run costs the same at every point. Every method runs at every point on the low, mid and high
memorization groups, over the search seeds (never the seeds the tables report).

Selection, a fixed rule on validation ToW (ToW with the validation split in place of the test
split, so no choice sees the test split):
- a method's default on the data set: the point with the highest mean over the three groups of
  the group's mean over seeds (ties: the earlier point, so the papers' setting when nothing beats it);
- full RUM's method for part p: the method and point (or `none`, the model left alone) with the
  highest mean validation ToW on group p.
"""
import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import unlearn  # noqa: E402
from engine.io import write_json, write_text  # noqa: E402
from evaluation import aggregate  # noqa: E402

PARTS = ("low", "mid", "high")
DOC = Path("docs/results.md")
GRID = {
    "FT": {"unlearn_lr": [0.01, 0.03, 0.1]},
    "l1-sparse": {"unlearn_lr": [0.01, 0.1], "alpha": [5e-4, 5e-3]},
    "GA": {"unlearn_lr": [1e-4, 1e-3, 1e-2]},
    "NG": {"alpha": [0.99, 0.95, 0.9]},
    "SCRUB": {"unlearn_lr": [5e-3, 2e-2, 5e-2]},
    "wfisher": {"alpha": [0.2, 2.0, 20.0]},
    "RL": {"unlearn_lr": [0.1, 0.03, 0.01]},
    "SalUn": {"unlearn_lr": [0.1, 0.03, 0.01]},
    "bad-teaching": {"unlearn_lr": [0.005, 0.02, 0.05]},
}


def points(method):
    """The grid of `method` as [{flag: value}], the papers' setting first."""
    grid = GRID[unlearn.canonical(method)]
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def flags(point):
    return " ".join(f"--{k} {v}" for k, v in point.items())


def point_of(m):
    """The grid point a run used: its recorded values of its method's searched flags."""
    return tuple((k, m["config"][k]) for k in GRID[unlearn.canonical(m["config"]["unlearn"])])


def text(point):
    return " ".join(f"{k}={v:g}" for k, v in point) or "—"


def search_runs(save_dir):
    runs = [m for m in aggregate.load_runs([Path(save_dir) / "unlearn"])
            if m["forget_set"]["kind"] == "memorization" and "variant" not in m and not m.get("diverged")
            and m["forget_set"]["params"]["group"] in PARTS]
    if not runs:
        raise SystemExit(f"no search runs under {save_dir}/unlearn: run scripts/sweep_strength.sh first")
    return runs


def table(runs):
    """{(method, point): {group: (mean val ToW, mean |forget gap|) over seeds}}, `original` with point ()."""
    cells = {}
    for m in runs:
        method = m["method"]
        key = (method, () if method == aggregate.BASELINE else point_of(m))
        v = aggregate.run_values(m)
        cells.setdefault(key, {}).setdefault(m["forget_set"]["params"]["group"], []).append(
            (v["val_tow"], abs(v["forget_gap"])))
    return {key: {g: tuple(sum(column) / len(vals) for column in zip(*vals)) for g, vals in groups.items()}
            for key, groups in cells.items()}


def overall(groups):
    """Mean over the three groups (None unless all three were run)."""
    if any(g not in groups for g in PARTS):
        return None, None
    return (sum(groups[g][0] for g in PARTS) / 3, sum(groups[g][1] for g in PARTS) / 3)


def defaults(cells):
    """{method: (point, mean val ToW)}: each method's best point by the rule above."""
    best = {}
    for method in GRID:
        means = [(overall(cells.get((method, tuple(p.items())), {}))[0], -i, tuple(p.items()))
                 for i, p in enumerate(points(method))]
        scored = [m for m in means if m[0] is not None]
        if scored:
            score, _, point = max(scored)
            best[method] = (point, score)
    return best


def per_part(cells):
    """{part: (method or 'none', point, val ToW)}: the best method and point on each group."""
    choice = {}
    for part in PARTS:
        scored = [(groups[part][0], method == aggregate.BASELINE, method, point)
                  for (method, point), groups in cells.items() if part in groups]
        if not scored:
            raise SystemExit(f"no search runs on the {part} group")
        score, _, method, point = max(scored)
        choice[part] = ("none" if method == aggregate.BASELINE else method, point, score)
    return choice


def rum_flags(choice):
    """main_rum.py flags of full RUM with the per-part choice: methods, and LR / alpha per part
    (`default` where the part's method does not search that flag)."""
    out = ["--rum_methods", ",".join(choice[p][0] for p in PARTS)]
    for flag, rum_flag in (("unlearn_lr", "--rum_lrs"), ("alpha", "--rum_alphas")):
        values = [dict(choice[p][1]).get(flag) for p in PARTS]
        if any(v is not None for v in values):
            out += [rum_flag, ",".join("default" if v is None else f"{v:g}" for v in values)]
    return " ".join(out)


def moves_forget(cells, method, point):
    """Whether the method at `point` brings the forget accuracy closer to the reference's than
    the untouched model does (mean absolute forget gap over the groups, smaller than original's)."""
    base = overall(cells.get((aggregate.BASELINE, ()), {}))[1]
    mine = overall(cells.get((method, point), {}))[1]
    return base is not None and mine is not None and mine < base - 1e-9


def markdown(cells, best, choice):
    lines = ["| method | setting | val ToW low | mid | high | mean | mean \\|forget gap\\| (points) | |",
             "|---|---|---|---|---|---|---|---|"]
    keys = [(aggregate.BASELINE, ())] + [(m, tuple(p.items())) for m in GRID for p in points(m)]
    for method, point in keys:
        groups = cells.get((method, point))
        if groups is None:
            continue
        mean, gap = overall(groups)
        cols = [f"{groups[g][0]:.3f}" if g in groups else "—" for g in PARTS]
        mark = "**default**" if best.get(method, (None,))[0] == point and point else ""
        lines.append(f"| {method} | {text(point)} | " + " | ".join(cols)
                     + f" | {'—' if mean is None else f'{mean:.3f}'} | {'—' if gap is None else f'{gap:.3f}'} | {mark} |")
    parts = ["| part | method | setting | val ToW |", "|---|---|---|---|"]
    parts += [f"| {p} | {choice[p][0]} | {text(choice[p][1])} | {choice[p][2]:.3f} |" for p in PARTS]
    return "\n".join(lines), "\n".join(parts)


def sentence(cells, best):
    papers = [m for m in GRID if (m, tuple(points(m)[0].items())) in cells]
    before = [m for m in papers if moves_forget(cells, m, tuple(points(m)[0].items()))]
    after = [m for m in best if moves_forget(cells, m, best[m][0])]
    changed = [f"{m} ({text(best[m][0])})" for m in best if best[m][0] != tuple(points(m)[0].items())]
    still = [m for m in best if m not in after]
    return (f"At the papers' settings {len(before)} of {len(papers)} methods bring the forget accuracy closer "
            f"to the reference's than the untouched model does (mean |forget gap| over the groups); at the "
            f"searched defaults {len(after)} of {len(best)} do. The search changed "
            f"{', '.join(changed) if changed else 'no default'}"
            + (f"; at their searched default {', '.join(still)} leave the forget accuracy no closer to the "
               "reference's than the untouched model's." if still else "."))


def write_defaults(dataset, best):
    """Put `dataset`'s searched defaults into the package's file (the other data sets kept)."""
    data = json.loads(unlearn.TUNED_FILE.read_text()) if unlearn.TUNED_FILE.exists() else \
        {"note": "per-data-set default strengths, written by scripts/sweep_strength.sh --write_defaults "
                 "(the search and its grid: docs/results.md, 'Strength search')", "datasets": {}}
    data["datasets"][dataset] = {m: dict(point) for m, (point, _) in sorted(best.items())}
    write_json(unlearn.TUNED_FILE, data)
    return unlearn.TUNED_FILE


def section(runs, cells, best, choice, command, seconds, save_dir):
    dataset = runs[0]["config"]["dataset"]
    heading = f"## Strength search ({dataset})"
    n = runs[0]["forget_set"]["params"]["n"]
    grid, parts = markdown(cells, best, choice)
    body = "\n\n".join([
        heading, "<!-- generated by scripts/strength_table.py --write_docs; do not edit -->",
        aggregate.provenance(command, seconds, runs, save_dir),
        f"Every method at every grid point on the low, mid and high memorization groups ({n} examples "
        "each). Validation ToW is ToW with the validation split in place of the test split; a method's "
        "default on this data set is its point with the highest mean over the groups (the papers' "
        "setting, listed first, unless another point beats it); these defaults are in "
        "`unlearn/tuned_defaults.json` and apply whenever a strength flag is not typed.",
        grid, sentence(cells, best),
        "Full RUM's choice per part (the method and setting with the highest validation ToW on that "
        "group; `none` leaves the part alone):", parts])
    return heading, body + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("grid", "choose", "rum_flags"))
    p.add_argument("--methods", default=" ".join(GRID), help="grid: the methods")
    p.add_argument("--save_dir", help="choose / rum_flags: the search's run folder")
    p.add_argument("--write_defaults", action="store_true", help=f"choose: write {unlearn.TUNED_FILE.name}")
    p.add_argument("--write_docs", action="store_true", help="choose: write the section of docs/results.md")
    p.add_argument("--command", default=None, help="the sweep's command, for the section's header")
    p.add_argument("--seconds", type=float, default=None, help="the sweep's wall time, for the header")
    args = p.parse_args()
    if args.action == "grid":
        for method in args.methods.split():
            if unlearn.canonical(method) not in GRID:
                raise SystemExit(f"no search grid for --unlearn {method} (searched: {', '.join(GRID)})")
            for point in points(method):
                print(method, flags(point))
        return
    if not args.save_dir:
        raise SystemExit(f"{args.action} needs --save_dir")
    runs = search_runs(args.save_dir)
    cells = table(runs)
    choice = per_part(cells)
    if args.action == "rum_flags":
        print(rum_flags(choice))
        return
    best = defaults(cells)
    command = args.command or f"scripts/strength_table.py choose --save_dir {args.save_dir}"
    heading, body = section(runs, cells, best, choice, command, args.seconds, args.save_dir)
    out = Path(args.save_dir) / "analysis" / "strength_search.md"
    write_text(out, body)
    print(body + f"\n-> {out}")
    if args.write_defaults:
        print(f"-> {write_defaults(runs[0]['config']['dataset'], best)}")
    if args.write_docs:
        write_text(DOC, aggregate.replace_section(DOC.read_text() if DOC.exists() else "", body + "\n", heading))
        print(f"-> {DOC}")


if __name__ == "__main__":
    main()
