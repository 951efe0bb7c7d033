"""python -m memorization {estimate,merge,proxy,es,report} ... (see --help of each)."""
import argparse
import sys

from engine import cli, recipe
from engine.config import freeze, from_args
from engine.errors import cli_main
from workflows import parsers
from workflows.config import save_dir_of
from .heldout import DATASET_DEFAULTS, PER_DATASET, EstimateConfig, dataset_defaults
from .path_choice import PATHS

PROG = "python -m memorization"


def estimate_config(args):
    """The flags given, else the data set's measured defaults (learner, models, epochs)."""
    given = {k: getattr(args, k) for k in PER_DATASET if getattr(args, k) is not None}
    return recipe.resolve(from_args(EstimateConfig, args, save_dir=save_dir_of(args),
                                    decreasing_lr=tuple(args.decreasing_lr),
                                    **{**dataset_defaults(args.dataset), **given}))


def command_config(args):
    """A frozen snapshot of one command's flags (the save folder resolved)."""
    flags = {k: v for k, v in vars(args).items() if k not in ("run", "config")}
    return freeze(argparse.Namespace(**flags), save_dir=save_dir_of(args))


def add_score_flag(p, default):
    from .heldout import SCORES
    p.add_argument("--score", choices=SCORES, default=default,
                   help="what `score` holds (both are written): the in-models' minus the out-models' mean "
                        "logit-scaled true-class confidence (logit: continuous, few ties) or 0/1 "
                        "correctness (correctness: Feldman & Zhang's original)")


def add_estimate(sub):
    p = sub.add_parser("estimate", help="heldout (Feldman & Zhang) memorization estimate",
                       description="Train --num_models models on random subsets of D; write "
                                   "<save_dir>/memorization/heldout.npz (or a shard file).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    parsers.add_optim_args(p, epochs=None, lr=EstimateConfig.lr)
    g = p.add_argument_group("estimator")
    p.set_defaults(batch_size=EstimateConfig.batch_size)
    per_dataset = "; ".join(f"{d}: " + ", ".join(f"{k} {v}" for k, v in c.items())
                            for d, c in DATASET_DEFAULTS.items())
    for action in p._actions:
        if action.dest == "arch":
            action.help = ("architecture of the heldout models (default: the data set's measured learner, "
                           "else the original model's, else the data set's default)")
        if action.dest == "epochs":
            action.help = f"passes over each model's subset (default: {EstimateConfig.epochs}, or per data set)"
    g.add_argument("--num_models", type=int, default=None,
                   help=f"models in the whole estimate (RUM: 400; default: {EstimateConfig.num_models}, "
                        f"or per data set: {per_dataset})")
    g.add_argument("--subset_ratio", type=float, default=0.7, help="fraction of D each model trains on")
    g.add_argument("--influence", action="store_true", help="also estimate infl(i, j) on the test split")
    add_score_flag(g, EstimateConfig.score)
    g.add_argument("--path", choices=PATHS, default="auto",
                   help="train the models as stacks of --models_per_batch (batched) or one at a time "
                        "(sequential; always for resnet18/resnet50/vgg16_bn); auto: whichever a short "
                        "timed calibration finds faster here (an estimate too small to be worth measuring: batched; cached in <save_dir>/memorization/"
                        "path_calibration.json)")
    g.add_argument("--sequential", dest="path", action="store_const", const="sequential",
                   default=argparse.SUPPRESS, help="the same as --path sequential")
    g.add_argument("--models_per_batch", type=int, default=16,
                   help="models trained at once on one device by the batched path")
    g.add_argument("--stack", choices=("auto", "wide", "vmap"), default="auto",
                   help="batched implementation: models side by side along channels (wide), "
                        "torch.func.vmap over stacked weights (vmap), or wide when possible (auto)")
    g.add_argument("--shard", type=int, default=None,
                   help="train only models k = shard (mod num_shards) (default: from "
                        "SLURM_ARRAY_TASK_ID or torchrun's RANK, else unsharded)")
    g.add_argument("--num_shards", type=int, default=None,
                   help="number of shards (default: SLURM_ARRAY_TASK_COUNT or WORLD_SIZE)")
    g.add_argument("--jobs", type=cli.positive_int, default=1,
                   help="run the estimate as this many shard processes on this machine (one OpenMP "
                        "thread each unless --threads), then merge; a rerun resumes them")
    p.set_defaults(run=run_estimate, config=estimate_config)


def add_merge(sub):
    p = sub.add_parser("merge", help="combine shard files into heldout.npz",
                       description="Merge <save_dir>/memorization/shards/heldout_<i>of<n>.npz.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", default="digits", help="only for the default --save_dir")
    p.add_argument("--save_dir", default=None, help="output folder (default runs/<dataset>)")
    p.add_argument("--num_shards", type=int, default=None, help="default: read from the file names")
    p.add_argument("--influence", action="store_true", help="also write the influence matrix")
    add_score_flag(p, None)
    p.set_defaults(run=run_merge, config=command_config)


def add_proxy(sub):
    from .proxies import KINDS
    p = sub.add_parser("proxy", help="a memorization proxy", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Write <save_dir>/memorization/<kind>.npz (+ .json).")
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    p.add_argument("--kind", required=True, choices=KINDS, help="which proxy")
    p.add_argument("--momentum", type=cli.non_negative_float, default=0.9, help="ho_ret fine-tuning")
    p.add_argument("--weight_decay", type=cli.non_negative_float, default=5e-4, help="ho_ret fine-tuning")
    parsers.add_proxy_settings(p)
    p.set_defaults(run=run_proxy, config=command_config)


def add_es_flags(p, size_help):
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    p.add_argument("--n_groups", type=int, default=15, help="distance groups (RUM: 15)")
    p.add_argument("--num_indexes_to_replace", type=int, default=None, help=size_help)
    p.add_argument("--mu", choices=("midpoint", "global"), default="midpoint",
                   help="ES centre: midpoint of the two means (RUM) or the mean of R and F together")


def add_es(sub):
    p = sub.add_parser("es", help="entanglement score of each embedding-distance group",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Write <save_dir>/memorization/es_groups.json.")
    add_es_flags(p, "forget set = first N of each group (default: the whole group)")
    p.set_defaults(run=run_es, config=command_config)


def add_report(sub):
    p = sub.add_parser("report", help="proxies vs the heldout estimate; ES of every group",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Spearman and Pearson correlation of every proxy file with heldout.npz "
                                   "(correlations.csv, scatter.png) and the ES of each memorization group "
                                   "and each distance group (es.csv), in <save_dir>/memorization/report/.")
    add_es_flags(p, "examples per group (default: the size of a distance group)")
    p.set_defaults(run=run_report, config=command_config)


def build_parser():
    p = cli.parser(__doc__)
    p.prog = PROG
    sub = p.add_subparsers(dest="command", metavar="{estimate,merge,proxy,es,report}")
    sub.required = True
    for add in (add_estimate, add_merge, add_proxy, add_es, add_report):
        add(sub)
    return p


def run_estimate(args, argv):
    """argv: this command's own flags, which `--jobs` gives each of its shard processes."""
    from .heldout import estimate, tied_fraction
    from .jobs import run_jobs
    out = run_jobs(args, argv) if args.jobs > 1 else estimate(args)
    for shard in out.get("complete_before", []):
        print(f"shard {shard} of {args.jobs} was already complete (skipped)")
    if out["skipped"]:
        print(f"shard {out['shard']} of {out['num_shards']} already complete: {out['path']} (skipped)")
    elif "shard" in out:
        print(f"shard {out['shard']} of {out['num_shards']}: {out['models']} models in "
              f"{out['wall_time_s']:.1f}s -> {out['path']}; when all shards are done: "
              f"{PROG} merge --save_dir {args.save_dir}")
    else:
        s = out["score"]
        jobs = f" ({args.jobs} processes)" if args.jobs > 1 else ""
        print(f"heldout memorization ({args.score}) from {out['models']} models in {out['wall_time_s']:.1f}s{jobs}: "
              f"mean {float(s[s == s].mean()):.3f}, {100 * tied_fraction(s):.0f}% tied at one value "
              f"-> {out['path']}")
    return 0


def run_merge(args):
    from .heldout import merge
    out = merge(args.save_dir, args.num_shards, args.influence, args.score)
    print(f"merged {out['num_shards']} shards ({out['models']} models) -> {out['path']}")
    return 0


def run_proxy(args):
    from .proxies import proxy
    out = proxy(args)
    s = out["score"]
    print(f"{args.kind}: {len(s)} scores (mean {float(s[s == s].mean()):.4g}, memorization_sign "
          f"{out['sign']:+d}) -> {out['path']}")
    return 0


def run_es(args):
    from .es_command import es_groups
    out = es_groups(args)
    print(f"{'group':>5} {'size':>6} {'ES':>10} {'distance':>19}")
    for r in out["groups"]:
        print(f"{r['group']:>5} {r['size']:>6} {r['es']:>10.4g} {r['distance_min']:>9.3g}-{r['distance_max']:<9.3g}")
    print(f"-> {out['path']}")
    return 0


def run_report(args):
    from .report import report
    out = report(args)
    h = out["heldout"]
    print(f"heldout estimate ({h['score']} score): {h['n']} examples, "
          f"{100 * h['tied_fraction']:.1f}% of them tied at one value")
    print(f"{'proxy':>12} {'n':>6} {'Spearman':>9} {'Pearson':>9}")
    for r in out["correlations"]:
        rho, r_p = (f"{v:+.3f}" if v is not None else "n/a" for v in (r["spearman"], r["pearson"]))
        print(f"{r['proxy']:>12} {r['n']:>6} {rho:>9} {r_p:>9}")
    if not out["correlations"]:
        print(f"no proxy files yet: {PROG} proxy --kind confidence --save_dir {args.save_dir}")
    print(f"{'group':>15} {'size':>6} {'ES':>10}")
    for r in out["entanglement"]:
        print(f"{r['kind'][:3] + ' ' + str(r['group']):>15} {r['size']:>6} {r['es']:>10.4g}")
    if out["planted_auc"]:
        print("ROC-AUC for the planted rare/mislabeled examples: " +
              ", ".join(f"{k} {v:.3f}" for k, v in out["planted_auc"].items()))
    print(f"-> {out['folder']}/{{correlations.csv,scatter.png,es.csv,report.json}}")
    return 0


@cli_main
def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    config = args.config(args)
    # `estimate --jobs` starts this command again, with the same flags, once per shard
    return run_estimate(config, argv) if args.run is run_estimate else args.run(config)


if __name__ == "__main__":
    raise SystemExit(main())
