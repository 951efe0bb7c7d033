"""Tables of the RUM experiment from the runs' metrics.json files, and the scripted choice of the
best method per memorization part.

  python scripts/rum_table.py select --save_dir runs/rum-digits      # prints low,mid,high methods
  python scripts/rum_table.py table --save_dir runs/rum-digits ...   # Markdown section

Selection rule (stated, not hand-picked): for each part p in low, mid, high, the method with the
highest mean ToW over seeds on the stand-alone forget set of group p (part p of the `mix` forget
set is the start of that group, minus examples an earlier part took); ties go to the lower mean RTE.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation import aggregate  # noqa: E402

PARTS = ("low", "mid", "high")


def per_group(save_dir, proxy):
    runs = [m for m in aggregate.load_runs([Path(save_dir) / "unlearn"])
            if m["forget_set"]["kind"] == "memorization" and "variant" not in m
            and m["forget_set"]["params"]["group"] in PARTS and m["forget_set"]["params"]["proxy"] == proxy]
    return aggregate.summarise(runs, ["tow", "rte"])


def select(rows):
    choice = {}
    for part in PARTS:
        mine = [r for r in rows if r["group"].startswith(part) and r["tow"] is not None]
        if not mine:
            raise SystemExit(f"no per-group results for the {part} group: run scripts/sweep_mem.sh first")
        best = max(mine, key=lambda r: (r["tow"], -(r["rte"] or 0)))
        choice[part] = best["method"]
    return choice


def rum_rows(save_dir):
    runs = [m for m in aggregate.load_runs([Path(save_dir) / "unlearn"]) if "variant" in m]
    return aggregate.summarise(runs, ["tow", "tow_mia", "forget_gap", "retain_gap", "test_gap", "rte"])


def cell(row, col="tow"):
    if row is None or row[col] is None:
        return "—"
    return aggregate.fmt(row[col], row[f"{col}_ci"], 3)


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


def table(save_dir, proxy, title):
    groups = per_group(save_dir, proxy)
    choice = select(groups)
    rows = rum_rows(save_dir)
    seeds = max((r["n_seeds"] for r in rows), default=0)
    by_label = {r["method"]: r for r in rows}
    methods = sorted({r["method"].split("-", 1)[1] for r in rows if r["method"].startswith("vanilla-")})
    out = [f"### {title}", "",
           "ToW (mean ± 95% t-interval over seeds; higher is better, 1 = the retrain reference) on one "
           "`--mem mix` forget set, unlearned in one go (Vanilla), in three random chunks (Shuffle), "
           "or in memorization-refined parts low → mid → high with the same method (RUM^F).", "",
           "| method | Vanilla | Shuffle | RUM^F | RUM^F − Vanilla |", "|---|---|---|---|---|"]
    diffs = {}
    for m in methods:
        v, s, f = (by_label.get(f"{k}-{m}") for k in ("vanilla", "shuffle", "rumf"))
        diff = f["tow"] - v["tow"] if v and f and v["tow"] is not None and f["tow"] is not None else None
        if diff is not None:
            diffs[m] = diff
        out.append(f"| {m} | {cell(v)} | {cell(s)} | {cell(f)} | "
                   f"{'—' if diff is None else f'{diff:+.3f}'} |")
    full = by_label.get("rum-" + "+".join(choice[p] for p in PARTS))
    out += ["", f"Full RUM with the best method per part chosen from the per-group results "
                f"(low: **{choice['low']}**, mid: **{choice['mid']}**, high: **{choice['high']}**): "
                f"ToW {cell(full)}, ToW-MIA {cell(full, 'tow_mia')}, RTE {cell(full, 'rte')}.", "",
            verdict(diffs, full, by_label, seeds), "",
            "Per-group ToW used for the choice (stand-alone forget sets of one memorization group):", "",
            "| method | low | mid | high |", "|---|---|---|---|"]
    for m in sorted({r["method"] for r in groups}):
        cells = [cell(next((r for r in groups if r["method"] == m and r["group"].startswith(p)), None))
                 for p in PARTS]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
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
        print(",".join(select(per_group(args.save_dir, args.mem_proxy))[p] for p in PARTS))
    else:
        print(table(args.save_dir, args.mem_proxy, args.title))


if __name__ == "__main__":
    main()
