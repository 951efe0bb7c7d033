"""The multi-request table from the runs' metrics.json files: for each method and score mode
(recomputed before every request, or frozen at the original model), ToW after each request and the
proxy and total time, as mean ± 95% t-interval over seeds; recomputed minus frozen after each
request, paired by seed; and the figure of ToW after each request.

  python scripts/multireq_table.py --save_dir runs/multireq-digits   # prints it, writes analysis/multireq.{md,png}

--write_docs puts it in the "## Multi-request RUM" section of docs/results.md (figure under
docs/figures/). Verdict, by a fixed rule on the paired difference after the last request:
"recomputing helps" when its 95% interval lies above 0, "recomputing hurts" when below, else "no
clear difference".
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.io import write_png, write_text  # noqa: E402
from evaluation import aggregate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
SECTION = "## Multi-request RUM (proxies recomputed or frozen)"
INTRO = ("Requests arrive one after another (`main_rum.py --requests S`, `--mem mix` of the `ho_ret` proxy "
         "among the examples not yet forgotten, RUM^F on each request's low / mid / high parts); each "
         "request's ToW is against a model retrained without everything forgotten so far. `recomputed`: the "
         "proxy is computed again on the model the previous requests left, before each request; `frozen` "
         "(`--frozen_scores`): every request is chosen by the original model's scores; `rum-none+none+none` "
         "leaves the model untouched (the baseline, on the frozen requests). Mean ± 95% t-interval over seeds.")


def multireq_runs(save_dir):
    return [m for m in aggregate.load_runs([Path(save_dir) / "unlearn"]) if m["forget_set"]["kind"] == "requests"]


def cell(values):
    if not values:
        return "—"
    mean, lo, hi = aggregate.t_interval(values)
    return aggregate.fmt(mean, None if lo is None else (hi - lo) / 2, 3)


def rows(runs):
    """{(method, forget set, scores): [runs]}, finished runs only (a diverged one has no ToW to average)."""
    groups = {}
    for m in runs:
        if not m.get("diverged"):
            key = (m["method"], aggregate.group_label(m["forget_set"]), m["scores"])
            groups.setdefault(key, []).append(m)
    return groups


def table(runs):
    groups = rows(runs)
    requests = max((len(m["requests"]) for ms in groups.values() for m in ms), default=0)
    head = (["method", "requests", "scores", "seeds"] + [f"ToW after {s}" for s in range(1, requests + 1)]
            + ["proxy time (s)", "total time (s)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (method, group, scores), ms in sorted(groups.items()):
        per_request = [cell([m["requests"][s]["tow"] for m in ms if len(m["requests"]) > s]) for s in range(requests)]
        lines.append("| " + " | ".join([method, group, scores, str(len(ms)), *per_request,
                                        cell([m["proxy_time_s"] for m in ms]),
                                        cell([m["wall_time_s"] for m in ms])]) + " |")
    diverged = sum(1 for m in runs if m.get("diverged"))
    return "\n".join(lines) + (f"\n\n{diverged} diverged runs left out." if diverged else "") + "\n"


PAPER = {True: "This agrees with the scalability paper's premise that scores recomputed on the current model "
                "choose later requests better.",
         False: "The scalability paper's premise, that scores recomputed on the current model choose later "
                "requests better, is not seen here."}


def seed_tows(ms, request):
    return {m["seed"]: m["requests"][request]["tow"] for m in ms if len(m["requests"]) > request}


def paired(runs):
    """{method: [(mean, low, high, seeds) of recomputed − frozen ToW after request s, for each s]},
    for the methods that ran both ways, over the seeds both finished."""
    groups = rows(runs)
    out = {}
    for (method, group, scores), ms in sorted(groups.items()):
        frozen = groups.get((method, group, "frozen"))
        if scores != "recomputed" or not frozen:
            continue
        steps = []
        for s in range(max(len(m["requests"]) for m in ms)):
            steps.append(aggregate.paired_difference(seed_tows(ms, s), seed_tows(frozen, s)))
        out[method] = steps
    return out


VERDICTS = {"above": "recomputing helps", "below": "recomputing hurts", "inside": "no clear difference",
            None: "undecided (fewer than 2 paired seeds)"}


def verdict(step):
    return VERDICTS[aggregate.side_of_zero(step)]


def proxy_cost(runs, method):
    mean = {scores: aggregate.t_interval([m["proxy_time_s"] for m in runs if m["method"] == method
                                          and m["scores"] == scores and not m.get("diverged")])[0]
            for scores in ("recomputed", "frozen")}
    return mean["recomputed"], mean["frozen"]


def summary(runs):
    """The paired differences and the verdict of each method, as sentences."""
    lines = []
    for method, steps in paired(runs).items():
        diffs = ", ".join(f"after request {s + 1} {mean:+.3f} "
                          + ("" if low is None else f"[{low:+.3f}, {high:+.3f}]")
                          for s, (mean, low, high, _) in enumerate(steps))
        recomputed, frozen = proxy_cost(runs, method)
        lines.append(f"{method}, recomputed minus frozen ToW paired by seed ({steps[-1][3]} seeds): {diffs}. "
                     f"**Verdict: {verdict(steps[-1])}** after {len(steps)} requests; the recomputed proxy "
                     f"cost {recomputed:.1f} s against {frozen:.1f} s frozen ({recomputed / frozen:.1f}×). "
                     + PAPER[verdict(steps[-1]) == "recomputing helps"])
    return "\n\n".join(lines)


def write_docs(runs, text, plot, command, seconds, save_dir):
    dataset = runs[0]["config"]["dataset"]
    figure_path = DOC.parent / "figures" / f"multireq_{dataset}.png"
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    figure_path.write_bytes(plot.read_bytes())
    body = "\n\n".join([SECTION, "<!-- generated by scripts/multireq_table.py --write_docs; do not edit -->",
                         aggregate.provenance(command, seconds, runs, save_dir), f"Data set: {dataset}. {INTRO}",
                         text.rstrip(), f"![ToW after each request](figures/{figure_path.name})", summary(runs)])
    write_text(DOC, aggregate.replace_section(DOC.read_text() if DOC.exists() else "", body + "\n\n", SECTION))
    return DOC


def figure(runs, path):
    """ToW after each request (mean ± 95% t-interval over seeds), one line per method and score mode."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    for i, ((method, group, scores), ms) in enumerate(sorted(rows(runs).items())):
        steps = range(max(len(m["requests"]) for m in ms))
        stats = [aggregate.t_interval([m["requests"][s]["tow"] for m in ms if len(m["requests"]) > s])
                 for s in steps]
        ax.errorbar([s + 1 + 0.05 * i for s in steps], [mean for mean, _, _ in stats],
                    yerr=[0 if lo is None else (hi - lo) / 2 for _, lo, hi in stats],
                    marker=aggregate.MARKERS[i % len(aggregate.MARKERS)], capsize=3, label=f"{method}, {scores}")
    ax.set_xticks(list(range(1, 1 + max(len(m["requests"]) for m in runs))))
    ax.set_xlabel("request")
    ax.set_ylabel("ToW (mean ± 95% CI)")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    return write_png(path, fig, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_dir", required=True)
    p.add_argument("--write_docs", action="store_true", help="also write the section of docs/results.md")
    p.add_argument("--command", default=None, help="the sweep's command, for the section's header")
    p.add_argument("--seconds", type=float, default=None, help="the sweep's wall time, for the header")
    args = p.parse_args()
    runs = multireq_runs(args.save_dir)
    if not runs:
        raise SystemExit(f"no multi-request runs under {args.save_dir}/unlearn: run main_rum.py --requests S first")
    text = table(runs)
    out = Path(args.save_dir) / "analysis" / "multireq.md"
    write_text(out, text)
    plot = figure([m for m in runs if not m.get("diverged")], out.with_suffix(".png"))
    print(text + "\n" + summary(runs) + f"\n-> {out}, {plot}")
    if args.write_docs:
        command = args.command or f"scripts/multireq_table.py --save_dir {args.save_dir}"
        print(f"-> {write_docs(runs, text, plot, command, args.seconds, args.save_dir)}")


if __name__ == "__main__":
    main()
