"""Train a forget-set generator for --augment_forget arpl|opengan.

    python -m unlearn.augment train --kind arpl --save_dir runs/d --num_indexes_to_replace 130
    python -m unlearn.augment train --kind opengan --save_dir runs/d --class_to_replace 3

Use the forget-set flags and --seed of the main_forget.py runs that will use it; the generator is
written to <save_dir>/augment/<kind>/<forget set>/ (generator.pt + generator.json)."""
import sys
import time

from engine import cli
from workflows import forget as pipeline
from engine.errors import UserError, cli_main
from engine.seed import seed_everything
from .arpl import train_arpl
from .gan import generator_dir, save_generator, tiny_model_threads
from .opengan import train_opengan

DEFAULT_EPOCHS = {"arpl": 60, "opengan": 300}


def build_parser():
    p = cli.parser(__doc__)
    p.prog = "python -m unlearn.augment"
    p.add_argument("command", choices=("train",))
    p.add_argument("--kind", required=True, choices=("arpl", "opengan"))
    cli.add_data_args(p)
    cli.add_run_args(p)
    p.set_defaults(batch_size=64)
    pipeline.add_forget_set_args(p)
    g = p.add_argument_group("generator")
    g.add_argument("--start_model", default=None,
                   help="model whose features are used (default <save_dir>/original)")
    g.add_argument("--epochs", type=int, default=None, help="default: arpl 60, opengan 300")
    g.add_argument("--gan_lr", type=cli.non_negative_float, default=None,
                   help="generator LR (default: arpl 2e-4, opengan 1e-3; D gets it too, OpenGAN's D half)")
    g.add_argument("--lr", type=cli.non_negative_float, default=1e-2, help="ARPL: reciprocal points LR")
    g.add_argument("--nz", type=cli.positive_int, default=None, help="noise size (arpl 100, opengan 64)")
    g.add_argument("--beta", type=cli.non_negative_float, default=0.1, help="ARPL: weight of fake_loss")
    g.add_argument("--warmup_steps", type=int, default=200,
                   help="ARPL: steps fitting the reciprocal points before the GAN starts")
    g.add_argument("--out", default=None, help="output folder (default <save_dir>/augment/<kind>/<forget set>)")
    return p


def train(args):
    args.epochs = DEFAULT_EPOCHS[args.kind] if args.epochs is None else args.epochs
    args.gan_lr = args.gan_lr or (2e-4 if args.kind == "arpl" else 1e-3)
    args.nz = args.nz or (100 if args.kind == "arpl" else 64)
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    ctx = pipeline.setup(args)
    forget_set = pipeline.build_forget_set(ctx)
    sets = pipeline.eval_sets(ctx.data, forget_set)
    seed_everything(args.seed)
    model = ctx.model.eval()
    with tiny_model_threads(ctx.device):
        if args.kind == "arpl":
            G, summary = train_arpl(model, sets["forget"], ctx.data.train, ctx.data.num_classes, args)
        else:
            G, summary = train_opengan(model, sets["forget"], args)
    out = args.out or generator_dir(args.save_dir, args.kind, forget_set.name)
    meta = {"kind": args.kind, "dataset": args.dataset, "split_sha": ctx.data.split.sha,
            "forget_set": forget_set.name, "forget_sha256": forget_set.sha256,
            "start_model": ctx.build, "seed": args.seed, "training": summary}
    save_generator(out, G, meta)
    return summary, out


@cli_main
def main(argv=None):
    args = cli.finish(build_parser().parse_args(argv))
    start = time.perf_counter()
    summary, out = train(args)
    print(f"{args.kind} generator: {summary['epochs']} epochs in {time.perf_counter() - start:.1f}s -> {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
