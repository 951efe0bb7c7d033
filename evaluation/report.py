"""Shared driver of analysis.py and analysis_mia.py: collect, summarise, write CSV/MD/PNG."""
from pathlib import Path

from engine import cli
from engine.errors import UserError
from engine.io import ensure_writable_dir, write_text
from . import aggregate


def build_parser(doc):
    p = cli.parser(doc)
    p.add_argument("paths", nargs="*", help="metrics.json files or folders (default <save_dir>/unlearn)")
    p.add_argument("--save_dir", default="runs/digits", help="run folder; output goes to <save_dir>/analysis")
    p.add_argument("--unlearn", default=None, help="only this method")
    p.add_argument("--kind", default=None, help="only this forget-set kind (random, class, memorization, es, file, rum)")
    p.add_argument("--out", default=None, help="output folder (default <save_dir>/analysis)")
    return p


def run(args, name, columns, titles, plots):
    paths = args.paths or [Path(args.save_dir) / "unlearn"]
    if not args.paths and not paths[0].is_dir():
        raise UserError(f"no unlearning results under {paths[0]}; run main_forget.py first")
    runs = aggregate.load_runs(paths)
    if args.unlearn:
        runs = [m for m in runs if m["method"] == args.unlearn or m["config"].get("unlearn") == args.unlearn]
    if args.kind:
        runs = [m for m in runs if m["forget_set"]["kind"] == args.kind]
    if not runs:
        raise UserError(f"no unlearning metrics.json found under {', '.join(map(str, paths))}; "
                        "run main_forget.py first")
    out = ensure_writable_dir(Path(args.out) if args.out else Path(args.save_dir) / "analysis", "--out")
    rows = aggregate.summarise(runs, columns)
    write_text(out / f"{name}.csv", aggregate.to_csv(rows))
    table = aggregate.to_markdown(rows, columns, titles)
    write_text(out / f"{name}.md", table)
    written = [out / f"{name}.csv", out / f"{name}.md"]
    for kind, column, ylabel in plots:
        png = aggregate.plot_by_group(rows, kind, column, out / f"{column}_by_{kind}.png", ylabel)
        if png:
            written.append(png)
    print(table)
    print(f"{len(runs)} runs in {len(rows)} groups -> " + ", ".join(str(w) for w in written))
    return rows
