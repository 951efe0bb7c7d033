"""RUM: refine the forget set by memorization and unlearn its parts in sequence, a method per part;
plus the paper's controls (Vanilla, Shuffle, RUM^F) on the same forget set, all scored against the
retrain reference of the whole forget set.

Examples:
  main_rum.py --mem mix --num_indexes_to_replace 90 --rum_methods none,FT,SalUn      # full RUM
  main_rum.py --variant vanilla --unlearn NG --mem mix --num_indexes_to_replace 90
Writes <save_dir>/unlearn/<variant>-<method(s)>/<forget_set>/s<seed>/metrics.json with per-step figures."""
from engine.errors import cli_main
from workflows import forget, parsers
from workflows.config import RumConfig, unlearn_config
from workflows.rum import run_rum


def build_parser():
    p = parsers.unlearning_parser(__doc__)
    parsers.add_rum_args(p)
    return p


def rum_config(args):
    """RUM's default forget set is `--mem mix`, unless another kind was asked for."""
    kinds = (args.mem, args.group_index, args.forget_index_file, args.class_to_replace)
    return unlearn_config(args, RumConfig, **({"mem": "mix"} if all(k is None for k in kinds) else {}))


@cli_main
def main(argv=None):
    metrics, path = run_rum(rum_config(build_parser().parse_args(argv)))
    if metrics is None:
        print(f"skipped: {path} exists")
        return 0
    for s in metrics["steps"]:
        a = s["accuracy"]
        print(f"  step {s['step']} {s['part']:>4} {s['method']:>12}: {s['size']} examples, "
              + (f"part acc {a['part']:.1f}%  forget {a['forget']:.1f}%  retain {a['retain']:.1f}%  "
                 f"test {a['test']:.1f}%" if a else "diverged") + f"  {s['wall_time_s']:.1f}s")
    print(forget.summary_line(metrics))
    print(f"-> {path}")
    return 1 if metrics.get("diverged") else 0


if __name__ == "__main__":
    raise SystemExit(main())
