"""RUM: refine the forget set by memorization and unlearn its parts in sequence, a method per part;
plus the paper's controls (Vanilla, Shuffle, RUM^F) on the same forget set, all scored against the
retrain reference of the whole forget set.

Examples:
  main_rum.py --mem mix --num_indexes_to_replace 90 --rum_methods none,FT,SalUn      # full RUM
  main_rum.py --variant vanilla --unlearn NG --mem mix --num_indexes_to_replace 90
Writes <save_dir>/unlearn/<variant>-<method(s)>/<forget_set>/s<seed>/metrics.json with per-step figures."""
from engine import cli
from workflows import forget as pipeline
from engine.errors import cli_main
from workflows.rum import RETAIN_RULES, VARIANTS, run_rum
from unlearn.options import METHOD_FLAGS


def build_parser():
    p = pipeline.unlearning_parser(__doc__)
    g = p.add_argument_group("RUM")
    g.add_argument("--variant", choices=VARIANTS, default="rum",
                   help="rum: a method per part; rumf: --unlearn for every refined part; "
                        "shuffle: random chunks; vanilla: the whole set at once")
    g.add_argument("--order", default="low,mid,high", help="order in which the parts are unlearned")
    g.add_argument("--rum_methods", default="none,FT,SalUn", help="method per part (low,mid,high); none skips")
    g.add_argument("--rum_lrs", default=None, help="LR per part, e.g. 0.01,0.01,0.1 (default: each method's)")
    g.add_argument("--rum_epochs", default=None, help="epochs per part")
    g.add_argument("--rum_alphas", default=None, help="--alpha per part (NG, l1-sparse, wfisher)")
    g.add_argument("--retain_rule", choices=RETAIN_RULES, default="paper",
                   help="paper: retain excludes the parts done so far; complement: D minus the whole forget set")
    return p


def default_forget_set(args):
    """RUM's default forget set is `--mem mix`, unless another kind was asked for."""
    if all(getattr(args, k) is None for k in ("mem", "group_index", "forget_index_file", "class_to_replace")):
        args.mem = "mix"
    return args


@cli_main
def main(argv=None):
    parser = build_parser()
    args = default_forget_set(cli.finish(parser.parse_args(argv)))
    args.cli_defaults = {k: getattr(args, k) for k in METHOD_FLAGS}
    metrics, path = run_rum(args)
    if metrics is None:
        print(f"skipped: {path} exists")
        return 0
    for s in metrics["steps"]:
        a = s["accuracy"]
        print(f"  step {s['step']} {s['part']:>4} {s['method']:>12}: {s['size']} examples, "
              + (f"part acc {a['part']:.1f}%  forget {a['forget']:.1f}%  retain {a['retain']:.1f}%  "
                 f"test {a['test']:.1f}%" if a else "diverged") + f"  {s['wall_time_s']:.1f}s")
    print(pipeline.summary_line(metrics))
    print(f"-> {path}")
    return 1 if metrics.get("diverged") else 0


if __name__ == "__main__":
    raise SystemExit(main())
