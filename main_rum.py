"""RUM: refine the forget set by memorization and unlearn its parts in sequence, a method per part;
plus the paper's controls (Vanilla, Shuffle, RUM^F) on the same forget set, all scored against the
retrain reference of the whole forget set.

Examples:
  main_rum.py --mem mix --num_indexes_to_replace 90 --rum_methods none,FT,SalUn      # full RUM
  main_rum.py --variant vanilla --unlearn NG --mem mix --num_indexes_to_replace 90
  main_rum.py --unlearn NG --mem mix --num_indexes_to_replace 90 --epochs 10 --lr 0.1 --batch_size 256
      (RUM's README line: --unlearn M alone runs RUM's template for M, see --variant; the original
      model is trained with --epochs/--lr/--batch_size first when <save_dir>/original is missing)
  main_rum.py --unlearn NG --mem_proxy ho_ret --requests 3 --num_indexes_to_replace 90
      (the scalability paper's multi-request mode: 3 requests of 90, each chosen by ho_ret scores
      recomputed on the model left by the requests before; --frozen_scores: by the original's scores)
Writes <save_dir>/unlearn/<variant>-<method(s)>/<forget_set>/s<seed>/metrics.json with per-step
(and per-request) figures."""
from engine.errors import cli_main
from workflows import forget, parsers
from workflows.config import rum_config, train_config
from workflows.multireq import run_requests
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


def step_line(s):
    a = s["accuracy"]
    return (f"  step {s['step']} {s['part']:>4} {s['method']:>12}: {s['size']} examples, "
            + (f"part acc {a['part']:.1f}%  forget {a['forget']:.1f}%  retain {a['retain']:.1f}%  "
               f"test {a['test']:.1f}%" if a else "diverged") + f"  {s['wall_time_s']:.1f}s")


def request_line(r):
    a = r["accuracy"]
    figures = (f"request acc {a['request']:.1f}%  forgotten so far ({r['forgotten']}) {a['forget']:.1f}%  "
               f"retain {a['retain']:.1f}%  test {a['test']:.1f}%  ToW {r['tow']:.4f}") if a else "diverged"
    return (f"  request {r['request']}: {r['size']} of {r['candidates']} left, scores {r['scores']} "
            f"({r['proxy_time_s']:.1f}s); {figures}  unlearn {r['unlearn_time_s']:.1f}s")


@cli_main
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    typed = parsers.given_flags(parser, argv)
    cfg = rum_config(args)  # checks every flag before anything is trained
    ensure_original(train_config(args), typed)
    metrics, path = (run_requests if cfg.requests else run_rum)(cfg)
    if metrics is None:
        print(f"skipped: {path} exists")
        return 0
    for line in map(request_line, metrics["requests"]) if cfg.requests else map(step_line, metrics["steps"]):
        print(line)
    print(forget.summary_line(metrics))
    print(f"-> {path}")
    return 1 if metrics.get("diverged") else 0


if __name__ == "__main__":
    raise SystemExit(main())
