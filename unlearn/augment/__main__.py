"""Train a forget-set generator for --augment_forget arpl|opengan.

    python -m unlearn.augment train --kind arpl --save_dir runs/d --num_indexes_to_replace 130
    python -m unlearn.augment train --kind opengan --save_dir runs/d --class_to_replace 3

Use the forget-set flags and --seed of the main_forget.py runs that will use it; the generator is
written to <save_dir>/augment/<kind>/<forget set>/ (generator.pt + generator.json)."""
import sys
import time
from dataclasses import dataclass

from datasets import DataFlags
from datasets.forget_sets import ForgetFlags
from engine import cli
from engine.config import RunFlags
from engine.errors import cli_main
from engine.seed import seed_everything
from workflows import forget as pipeline
from workflows import parsers
from workflows.config import forget_set_config
from .arpl import train_arpl
from .gan import generator_dir, save_generator, tiny_model_threads
from .opengan import train_opengan

# per kind: epochs, generator LR, noise size
DEFAULTS = {"arpl": {"epochs": 60, "gan_lr": 2e-4, "nz": 100},
            "opengan": {"epochs": 300, "gan_lr": 1e-3, "nz": 64}}


@dataclass(frozen=True)
class GeneratorConfig(DataFlags, RunFlags, ForgetFlags):
    """`train`: a forget-set generator, with the kind's defaults filled in."""
    kind: str = "arpl"
    start_model: str | None = None
    epochs: int = 60
    gan_lr: float = 2e-4
    lr: float = 1e-2
    nz: int = 100
    beta: float = 0.1
    warmup_steps: int = 200
    out: str | None = None


def build_parser():
    p = cli.parser(__doc__)
    p.prog = "python -m unlearn.augment"
    p.add_argument("command", choices=("train",))
    p.add_argument("--kind", required=True, choices=("arpl", "opengan"))
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    p.set_defaults(batch_size=64)
    parsers.add_forget_set_args(p)
    g = p.add_argument_group("generator")
    g.add_argument("--start_model", default=None,
                   help="model whose features are used (default <save_dir>/original)")
    g.add_argument("--epochs", type=cli.positive_int, default=None, help="default: arpl 60, opengan 300")
    g.add_argument("--gan_lr", type=cli.non_negative_float, default=None,
                   help="generator LR (default: arpl 2e-4, opengan 1e-3; D gets it too, OpenGAN's D half)")
    g.add_argument("--lr", type=cli.non_negative_float, default=1e-2, help="ARPL: reciprocal points LR")
    g.add_argument("--nz", type=cli.positive_int, default=None, help="noise size (arpl 100, opengan 64)")
    g.add_argument("--beta", type=cli.non_negative_float, default=0.1, help="ARPL: weight of fake_loss")
    g.add_argument("--warmup_steps", type=cli.non_negative_int, default=200,
                   help="ARPL: steps fitting the reciprocal points before the GAN starts")
    g.add_argument("--out", default=None, help="output folder (default <save_dir>/augment/<kind>/<forget set>)")
    return p


def generator_config(args):
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS[args.kind] and v is not None}
    return forget_set_config(args, GeneratorConfig, **{**DEFAULTS[args.kind], **given})


def train(cfg):
    ctx = pipeline.setup(cfg)
    forget_set = pipeline.build_forget_set(ctx)
    sets = pipeline.eval_sets(ctx.data, forget_set)
    seed_everything(cfg.seed)
    model = ctx.model.eval()
    with tiny_model_threads(ctx.device):
        if cfg.kind == "arpl":
            G, summary = train_arpl(model, sets["forget"], ctx.data.train, ctx.data.num_classes, cfg)
        else:
            G, summary = train_opengan(model, sets["forget"], cfg)
    out = cfg.out or generator_dir(cfg.save_dir, cfg.kind, forget_set.name)
    meta = {"kind": cfg.kind, "dataset": cfg.dataset, "split_sha": ctx.data.split.sha,
            "forget_set": forget_set.name, "forget_sha256": forget_set.sha256,
            "start_model": ctx.build, "model_sha256": ctx.model_sha256, "seed": cfg.seed, "training": summary}
    save_generator(out, G, meta)
    return summary, out


@cli_main
def main(argv=None):
    cfg = generator_config(build_parser().parse_args(argv))
    start = time.perf_counter()
    summary, out = train(cfg)
    print(f"{cfg.kind} generator: {summary['epochs']} epochs in {time.perf_counter() - start:.1f}s -> {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
