"""The multi-request table from the runs' metrics.json files: for each method and score mode
(recomputed before every request, or frozen at the original model), ToW after each request and the
proxy and total time, as mean ± 95% t-interval over seeds; and the figure of ToW after each request.

  python scripts/multireq_table.py --save_dir runs/multireq-digits   # prints it, writes analysis/multireq.{md,png}
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.io import write_png, write_text  # noqa: E402
from evaluation import aggregate  # noqa: E402


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
    args = p.parse_args()
    runs = multireq_runs(args.save_dir)
    if not runs:
        raise SystemExit(f"no multi-request runs under {args.save_dir}/unlearn: run main_rum.py --requests S first")
    text = table(runs)
    out = Path(args.save_dir) / "analysis" / "multireq.md"
    write_text(out, text)
    plot = figure([m for m in runs if not m.get("diverged")], out.with_suffix(".png"))
    print(text + f"-> {out}, {plot}")


if __name__ == "__main__":
    main()
