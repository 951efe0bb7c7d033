"""The multi-request table from the runs' metrics.json files: for each method and score mode
(recomputed before every request, or frozen at the original model), ToW after each request and the
proxy and total time, as mean ± 95% t-interval over seeds.

  python scripts/multireq_table.py --save_dir runs/multireq-digits   # prints it, writes analysis/multireq.md
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.io import write_text  # noqa: E402
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
    print(text + f"-> {out}")


if __name__ == "__main__":
    main()
