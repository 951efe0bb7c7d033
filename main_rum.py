"""RUM: refine the forget set by memorization and unlearn its parts in sequence, a method per part;
plus the paper's controls (Vanilla, Shuffle, RUM^F) on the same forget set, all scored against the
retrain reference of the whole forget set.

Examples:
  main_rum.py --mem mix --num_indexes_to_replace 90 --rum_methods none,FT,SalUn      # full RUM
  main_rum.py --variant vanilla --unlearn NG --mem mix --num_indexes_to_replace 90
  main_rum.py --unlearn NG --mem mix --num_indexes_to_replace 90 --epochs 10 --lr 0.1 --batch_size 256
      (RUM's README line: --unlearn M alone runs RUM's template for M, see --variant; the original
      model is trained with --epochs/--lr/--batch_size first when <save_dir>/original is missing)
Writes <save_dir>/unlearn/<variant>-<method(s)>/<forget_set>/s<seed>/metrics.json with per-step figures."""
from engine.errors import cli_main
from workflows import forget, parsers
from workflows.config import rum_config, train_config
from workflows.rum import run_rum
from workflows.train import ensure_original

def build_parser():
    p = parsers.unlearning_parser(__doc__)
    parsers.add_rum_args(p)
    g = p.add_argument_group("original model (trained first when <save_dir>/original is missing; "
                             "else must match it)")
    parsers.add_recipe_args(g)
    p.set_defaults(variant=None, rum_methods=None, unlearn=None)  # resolved in rum_config
    return p


@cli_main
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    typed = parsers.given_flags(parser, argv)
    cfg = rum_config(args)  # checks every flag before anything is trained
    ensure_original(train_config(args), typed)
    metrics, path = run_rum(cfg)
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
