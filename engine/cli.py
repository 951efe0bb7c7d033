"""Flags shared by every entry script (RUM's names), and a parser whose errors are one line."""
import argparse
import sys


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def parser(description):
    return Parser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def int_list(text):
    try:
        return [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def fraction(text):
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} must be in [0, 1)")
    return value


def add_data_args(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits",
                   help="digits | synthetic | cifar10 | cifar100 | svhn | tinyimagenet")
    g.add_argument("--data", default=None, help="folder holding the data set files (real data sets)")
    g.add_argument("--download", action="store_true", help="download the data set into --data first")
    g.add_argument("--val_size", type=fraction, default=None,
                   help="fraction of each class carved out of train as validation (default 0.1; "
                        "fixed by the first script that uses --save_dir)")
    g.add_argument("--split_seed", type=int, default=0, help="seed of the validation carve-out")
    g.add_argument("--no_aug", action="store_true", help="train without augmentation")
    s = p.add_argument_group("synthetic data (--dataset synthetic)")
    s.add_argument("--synth_n", type=positive_int, default=2000, help="training examples")
    s.add_argument("--synth_shape", default="1x8x8", help="CxHxW, e.g. 3x32x32 for CIFAR-shaped")
    s.add_argument("--synth_label_noise", type=fraction, default=0.03, help="fraction of flipped labels")
    return g


def add_run_args(p, save_dir_default="runs/digits"):
    g = p.add_argument_group("run")
    g.add_argument("--arch", default=None, help="model architecture (default: the data set's)")
    g.add_argument("--save_dir", default=None, help=f"output folder (default runs/<dataset>)")
    g.add_argument("--seed", type=int, default=2, help="seed of this run")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    g.add_argument("--batch_size", type=positive_int, default=128)
    g.add_argument("--compile", action="store_true",
                   help="torch.compile the model (CUDA only; refused on CPU, where it does not pay off)")
    return g


def add_optim_args(p, epochs=30, lr=0.1, prefix=""):
    g = p.add_argument_group("optimisation")
    g.add_argument(f"--{prefix}epochs", type=int, default=epochs)
    g.add_argument(f"--{prefix}lr", type=non_negative_float, default=lr)
    g.add_argument("--momentum", type=non_negative_float, default=0.9)
    g.add_argument("--weight_decay", type=non_negative_float, default=5e-4)
    g.add_argument("--scheduler", choices=("cosine", "multistep", "constant", "linear"), default="cosine")
    g.add_argument("--decreasing_lr", type=int_list, default=[91, 136],
                   help="milestones of --scheduler multistep")
    g.add_argument("--gamma_lr", type=non_negative_float, default=0.1, help="multistep decay factor")
    g.add_argument("--warmup", type=int, default=0, help="linear warm-up epochs (per iteration)")
    g.add_argument("--recipe", choices=("default", "fast"), default="default",
                   help="fast: airbench-style recipe for --arch fastnet (label smoothing 0.2, Nesterov, "
                        "warm-up + linear decay, alternating flip, flip TTA, whitening init; "
                        "engine/recipe.py)")
    return g


def finish(args):
    if args.save_dir is None:
        args.save_dir = f"runs/{args.dataset}"
    from . import recipe
    return recipe.apply(args)
