"""Tables of the RUM experiment from the runs' metrics.json files, and the scripted choice of the
best method per memorization part.

  python scripts/rum_table.py select --save_dir runs/rum-digits      # prints low,mid,high methods
  python scripts/rum_table.py table --save_dir runs/rum-digits ...   # Markdown section

Selection rule (stated, not hand-picked): for each part p in low, mid, high, the method with the
highest mean ToW over seeds on the stand-alone forget set of group p (part p of the `mix` forget
set is the start of that group, minus examples an earlier part took); ties go to the lower mean RTE.
`original` (the starting model, not unlearned) is the baseline row of every table, never a choice.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation import aggregate  # noqa: E402

PARTS = ("low", "mid", "high")


def load(save_dir):
    return aggregate.load_runs([Path(save_dir) / "unlearn"])


def memorization_runs(runs, proxy, groups):
    """The main_forget.py runs (no RUM variant) on the memorization groups `groups` of `proxy`."""
    return [m for m in runs if m["forget_set"]["kind"] == "memorization" and "variant" not in m
            and m["forget_set"]["params"]["group"] in groups and m["forget_set"]["params"]["proxy"] == proxy]


def per_group(runs, proxy):
    return aggregate.summarise(memorization_runs(runs, proxy, PARTS), ["tow", "rte"])


def select(rows):
    choice = {}
    for part in PARTS:
        mine = [r for r in rows if r["group"].startswith(part) and r["tow"] is not None and not r["original"]]
        if not mine:
            raise SystemExit(f"no per-group results for the {part} group: run scripts/sweep_mem.sh first")
        best = max(mine, key=lambda r: (r["tow"], -(r["rte"] or 0)))
        choice[part] = best["method"]
    return choice


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


def verdict(diffs, full, by_label, seeds, margin=0.01):
    """What came out, in words, by a fixed rule: RUM^F helps a method when its mean ToW beats
    Vanilla's by more than `margin`; full RUM is compared with the best RUM^F."""
    def names(ms):
        return ", ".join(ms) if ms else "none"
    helped = [m for m, d in diffs.items() if d > margin]
    hurt = [m for m, d in diffs.items() if d < -margin]
    same = [m for m, d in diffs.items() if abs(d) <= margin]
    text = (f"Refining by memorization (RUM^F) raised the mean ToW over Vanilla by more than {margin} for "
            f"{names(helped)}; changed it by at most {margin} for {names(same)}; lowered it for {names(hurt)}.")
    best = max(((by_label[f"rumf-{m}"]["tow"], m) for m in diffs), default=None)
    if full is not None and full["tow"] is not None and best is not None:
        text += (f" Full RUM ({full['tow']:.3f}) is {'above' if full['tow'] > best[0] else 'below'} the best "
                 f"single-method RUM^F ({best[1]}, {best[0]:.3f}).")
    return text + f" With {seeds} seeds the intervals are wide: differences inside them are not established."


def no_effect_note(rows):
    return ["", aggregate.NO_EFFECT_NOTE] if any(r["original"] for r in rows) else []


def table(save_dir, proxy, title):
    runs = load(save_dir)
    groups = per_group(runs, proxy)
    choice = select(groups)
    rows = rum_rows(runs, proxy)
    seeds = max((r["n_seeds"] for r in rows), default=0)
    by_label = {r["method"]: r for r in rows}
    methods = sorted({r["method"].split("-", 1)[1] for r in rows if r["method"].startswith("vanilla-")})
    out = [f"### {title}", "",
           "ToW (mean ± 95% t-interval over seeds; higher is better, 1 = the retrain reference) on one "
           "`--mem mix` forget set, unlearned in one go (Vanilla), in three random chunks (Shuffle), "
           "or in memorization-refined parts low → mid → high with the same method (RUM^F); "
           "`original` is the starting model left as it is.", "",
           "| method | Vanilla | Shuffle | RUM^F | RUM^F − Vanilla |", "|---|---|---|---|---|",
           *baseline_row(by_label)]
    diffs = {}
    for m in methods:
        v, s, f = (by_label.get(f"{k}-{m}") for k in ("vanilla", "shuffle", "rumf"))
        diff = f["tow"] - v["tow"] if v and f and v["tow"] is not None and f["tow"] is not None else None
        if diff is not None:
            diffs[m] = diff
        out.append(f"| {m} | {tow_cell(v)} | {tow_cell(s)} | {tow_cell(f)} | "
                   f"{'—' if diff is None else f'{diff:+.3f}'} |")
    full = by_label.get("rum-" + "+".join(choice[p] for p in PARTS))
    out += [*no_effect_note(rows),
            "", f"Full RUM with the best method per part chosen from the per-group results "
                f"(low: **{choice['low']}**, mid: **{choice['mid']}**, high: **{choice['high']}**): "
                f"ToW {tow_cell(full)}, ToW-MIA {cell(full, 'tow_mia')}, RTE {cell(full, 'rte')}.", "",
            verdict(diffs, full, by_label, seeds), "",
            "Per-group ToW used for the choice (stand-alone forget sets of one memorization group):", "",
            "| method | low | mid | high |", "|---|---|---|---|"]
    for m in sorted({r["method"] for r in groups}, key=lambda m: (m != aggregate.BASELINE, m)):
        cells = [tow_cell(next((r for r in groups if r["method"] == m and r["group"].startswith(p)), None))
                 for p in PARTS]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    out += no_effect_note(groups)
    diverged = sum(r["n_diverged"] for r in rows + groups)
    out += ["", f"{seeds} seeds per cell; {diverged} diverged runs (counted, not averaged)."]
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("select", "table"))
    p.add_argument("--save_dir", required=True)
    p.add_argument("--mem_proxy", default="heldout")
    p.add_argument("--title", default="RUM")
    args = p.parse_args()
    if args.what == "select":
        print(",".join(select(per_group(load(args.save_dir), args.mem_proxy))[p] for p in PARTS))
    else:
        print(table(args.save_dir, args.mem_proxy, args.title))


if __name__ == "__main__":
    main()
