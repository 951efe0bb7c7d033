"""Shared driver of analysis.py and analysis_mia.py: collect runs, keep those that match RUM's
selection flags, summarise, write CSV / Markdown / PNG and RUM's results.csv."""
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from engine import cli
from engine.errors import UserError
from engine.io import ensure_writable_dir, write_text
from . import aggregate


@dataclass(frozen=True)
class Table:
    """What one entry script reports: its score column (the file stem too), the name of its RUM
    results file, the table's columns and their titles."""
    score: str
    results: str
    columns: tuple
    titles: dict


def _memorization(m, key):
    fs = m["forget_set"]
    return fs["params"].get(key) if fs["kind"] == "memorization" else None


def _es_group(m):
    fs = m["forget_set"]
    return fs["params"].get("group_index") if fs["kind"] == "es" else None


def _forgotten_classes(m):
    return tuple(sorted(m["forget_set"]["params"].get("classes") or ()))


# a given flag keeps the runs for which this returns the flag's (parsed) value
FILTERS = {
    "dataset": lambda m: m["config"].get("dataset"),
    "arch": aggregate.arch_used,
    "unlearn": aggregate.method_applied,
    "kind": lambda m: m["forget_set"]["kind"],
    "mem": lambda m: _memorization(m, "group"),
    "mem_proxy": lambda m: _memorization(m, "proxy"),
    "group_index": _es_group,
    "class_to_replace": _forgotten_classes,
    "num_indexes_to_replace": lambda m: m["forget_set"].get("size"),
    "unlearn_step": lambda m: m["config"].get("requests"),  # main_rum.py --requests, RUM's --unlearn_step
}


def class_list(text):
    """--class_to_replace as recorded by a class-wise forget set: sorted; -1 (RUM: no class) drops out."""
    return tuple(sorted(c for c in cli.int_list(text) if c != -1))


def build_parser(doc, table, methods):
    """The flags of both scripts; `methods` (the --unlearn registry) resolves RUM's spellings."""
    def method_name(text):
        return methods.aliases.get(text, text)

    stem = f"{table.score}[.<filters>]"
    p = cli.parser(doc)
    p.epilog = (f"Writes {stem}.csv, {stem}.md, {table.score}_by_memorization/_by_es[.<filters>].png "
                f"and {table.results}[.<filters>].csv into --out; <filters> names the filters given, "
                "so a filtered call never overwrites the full tables.")
    p.add_argument("paths", nargs="*", help="metrics.json files or folders (default <save_dir>/unlearn)")
    p.add_argument("--save_dir", default="runs/digits", help="run folder; output goes to <save_dir>/analysis")
    p.add_argument("--out", default=None, help="output folder (default <save_dir>/analysis)")
    f = p.add_argument_group("filters (RUM's selection flags; each one given keeps the runs that match it)")
    f.add_argument("--dataset", default=None, help="data set of the run")
    f.add_argument("--arch", default=None, help="architecture the run unlearned (its retrain reference's)")
    f.add_argument("--no_aug", action="store_true",
                   help="accepted for RUM's command line and ignored: RUM's analysis read the same runs "
                        "with or without it")
    f.add_argument("--unlearn", type=method_name, default=None,
                   help="method, by any of its names (NegGrad+ = NG, RL_og = RL); RUM's controls "
                        "(vanilla/shuffle/rumf) count as their method; rum: the full RUM runs")
    f.add_argument("--kind", default=None, help="forget-set kind: random, class, memorization, es, file")
    f.add_argument("--mem", choices=("high", "mid", "low", "mix"), default=None, help="memorization group")
    f.add_argument("--mem_proxy", default=None, help="score behind the memorization group (absent: any)")
    f.add_argument("--group_index", type=int, default=None, help="ES group (-1: the mix)")
    f.add_argument("--class_to_replace", type=class_list, default=None,
                   help="forgotten class(es), e.g. 3 or 3,5 (-1: runs that forgot no whole class)")
    f.add_argument("--num_indexes_to_replace", type=cli.positive_int, default=None, help="forget-set size")
    f.add_argument("--unlearn_step", type=cli.non_negative_int, default=None,
                   help="number of requests of a multi-request run (main_rum.py --requests; runs without "
                        "requests match only when absent)")
    return p


def given_filters(args):
    """[(flag, value)] of the filters given, in FILTERS order (store_true --no_aug: when set)."""
    return [(flag, vars(args)[flag]) for flag in FILTERS if vars(args)[flag] not in (None, False)]


def shown(value):
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value)


def describe(filters):
    return " ".join(f"--{flag}" if value is True else f"--{flag} {shown(value)}" for flag, value in filters)


def slug(filters, limit=120):
    """A file-name part naming the filters (`unlearn=NG.mem=high`); long ones end in a hash."""
    parts = [flag if value is True else f"{flag}={re.sub(r'[^A-Za-z0-9_+-]+', '-', shown(value))}"
             for flag, value in filters]
    text = ".".join(parts)
    if len(text) > limit:
        text = text[:limit - 9] + "." + hashlib.sha1(text.encode()).hexdigest()[:8]
    return text


def select(runs, filters, where):
    """The runs every filter matches; when none does, a one-line UserError naming the filters and
    the values the runs have for the first filter that leaves nothing."""
    kept = runs
    for flag, value in filters:
        matching = [m for m in kept if FILTERS[flag](m) == value]
        if not matching:
            seen = ", ".join(sorted({shown(FILTERS[flag](m)) for m in kept}))
            raise UserError(f"no runs match {describe(filters)} among the {len(runs)} under {where}; "
                            f"--{flag} leaves none (those runs have: {seen})")
        kept = matching
    return kept


def load(args):
    """Every unlearning run under the paths (default <save_dir>/unlearn), and where they were."""
    paths = args.paths or [Path(args.save_dir) / "unlearn"]
    where = ", ".join(map(str, paths))
    if not args.paths and not paths[0].is_dir():
        raise UserError(f"no unlearning results under {where}; run main_forget.py first")
    runs = aggregate.load_runs(paths)
    if not runs:
        raise UserError(f"no unlearning metrics.json found under {where}; run main_forget.py first")
    return runs, where


def write_outputs(out, table, rows, markdown, filters):
    """Write this call's files (named after its filters) and return (written, removed): a plot
    this call has no data for is removed if an earlier call of the same name left one."""
    suffix = f".{slug(filters)}" if filters else ""
    written = [write_text(out / f"{table.score}{suffix}.csv",
                          aggregate.to_csv(rows, aggregate.table_fields(table.columns))),
               write_text(out / f"{table.score}{suffix}.md", markdown),
               write_text(out / f"{table.results}{suffix}.csv",
                          aggregate.to_csv(aggregate.results_rows(rows, table.score),
                                           aggregate.results_fields(table.score)))]
    removed = []
    for kind in aggregate.AXIS:
        path = out / f"{table.score}_by_{kind}{suffix}.png"
        png = aggregate.plot_by_group(rows, kind, table.score, path, table.titles[table.score],
                                      subtitle=f"filters: {describe(filters)}" if filters else "")
        if png:
            written.append(png)
        elif path.exists():
            path.unlink()
            removed.append(path)
    return written, removed


def run(args, table):
    runs, where = load(args)
    filters = given_filters(args)
    chosen = select(runs, filters, where)
    out = ensure_writable_dir(Path(args.out) if args.out else Path(args.save_dir) / "analysis", "--out")
    extra = [c for c in (table.score, *aggregate.RESULT_FIGURES) if c not in table.columns]  # results.csv's
    rows = aggregate.summarise(chosen, list(table.columns) + extra)
    markdown = aggregate.to_markdown(rows, table.columns, table.titles)
    written, removed = write_outputs(out, table, rows, markdown, filters)
    print(markdown)
    matched = f"{len(chosen)} of {len(runs)} runs match {describe(filters)}" if filters else \
        f"{len(runs)} runs"
    print(f"{matched}, {len(rows)} group{'s' * (len(rows) != 1)} -> " + ", ".join(map(str, written))
          + (f"; removed the stale {', '.join(map(str, removed))}" if removed else ""))
    return rows


def replace_section(text, heading, section):
    """`text` (a results file) with the section under `heading` (a `## ` line, up to the next one)
    replaced by `section`, or `section` appended; the other sections stay as they were, so each
    experiment's script rewrites only its own."""
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    if not text.strip():
        text = "# Results\n\nTables generated from measured runs; every number below comes from a metrics.json.\n"
    return text.rstrip("\n") + "\n\n" + section
