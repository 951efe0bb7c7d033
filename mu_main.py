"""The capstone's entry point (mu_main.py of kklusd/Unlearning), as one main_forget.py run.

Takes the capstone's flags, prints the equivalent main_forget.py command, runs it in-process
(same metrics.json, same run folder) and prints the capstone's figures: forget / retain / test
accuracy (AccDf / AccDr / AccDt), the MIA and the geo metric. The run folder is
--saved_data_path; make it first, e.g.

    python main_train.py --dataset digits --save_dir mu/saved_data
    python mu_main.py --method scrub --mode random --forget_num 100 --lr 0.005 --epoches 2 --loss_weight 0

Flags the capstone accepted but never used (and ones the chosen method does not read) are
accepted and listed in one line on stderr. docs/deviations.md lists every difference in meaning.
"""
import argparse
import math
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import main_forget
from engine import cli
from engine.errors import UserError, cli_main
from engine.io import read_json
from workflows.config import unlearn_config

METHODS = {"retrain": "retrain", "neggrad": "GA", "salUN": "SalUn", "bad_teaching": "bad-teaching",
           "scrub": "SCRUB"}
SSL_METHODS = ("bad_teaching", "scrub")  # the capstone added its SSL term to these two only
MODES = ("random", "class_wise", "classwise")  # the README's spelling and the code's
SSL_MODES = {"simple": "simple", "original": "contrastive"}
AUGMENTS = {"simple": "simple", "arpl": "arpl", "aplr": "arpl", "opengan": "opengan"}  # aplr: README typo
NO_AUGMENT = ("None", "none")

# The capstone's defaults, filled in after parsing so that the flags the user typed are known.
# --loss_weight: the capstone's 0.5 added a constant without gradient, i.e. no SSL term in effect.
DEFAULTS = {"method": "salUN", "mode": "random", "forget_num": 5000, "forget_class": 0, "lr": 0.001,
            "epoches": 1, "unlearn_epochs": 1, "batch_size": 256, "loss_weight": 0.0,
            "supervised_mode": "simple", "saved_data_path": "mu/saved_data", "data_augment": "None",
            "augment_num": 500, "seed": 2}

# Accepted, never used: flag -> why, in a few words (also the --help text).
IGNORED = {
    "num_worker": "batches are sliced from tensors on the device",
    "workers": "batches are sliced from tensors on the device",
    "print_freq": "no per-batch log",
    "teacher_path": "the original model is <saved_data_path>/original",
    "sim_path": "the SimCLR model is <saved_data_path>/simclr, made by simclr.py",
    "out_dim": "the SimCLR head's size comes with its checkpoint",
    "num_class": "taken from the data set",
    "num_classes": "taken from the data set",
    "model_path": "unused by the capstone",
    "epochs": "unused by the capstone; see --epoches",
    "num_indexes_to_replace": "unused by the capstone; see --forget_num",
    "class_to_replace": "unused by the capstone; see --forget_class",
    "indexes_to_replace": "unused by the capstone",
    "alpha": "unused by the capstone",
    "data": "unused by the capstone; see --data_root",
    "dataset": "see --data_name",
    "arch": "unused by the capstone; see --base_model",
    "save_dir": "the SalUn mask is computed in memory; the run folder is --saved_data_path",
    "unlearn": "salUN always relabels at random",
    "unlearn_lr": "the capstone never stepped it; --lr is the learning rate",
    "decreasing_lr": "constant learning rate",
    "warmup": "no warm-up",
    "optimizer": "always SGD, momentum 0.9, weight decay 5e-4: the capstone's default 'Adam' meant SGD too",
}


def build_parser():
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("the capstone's flags -> main_forget.py (capstone default in brackets)")
    g.add_argument("--method", choices=METHODS,
                   help="-> --unlearn: retrain -> retrain (trained with the original model's recipe), "
                        "neggrad -> GA, salUN -> SalUn, bad_teaching -> bad-teaching, scrub -> SCRUB [salUN]")
    g.add_argument("--mode", choices=MODES,
                   help="random -> --num_indexes_to_replace FORGET_NUM; class_wise / classwise -> "
                        "--class_to_replace FORGET_CLASS (the whole class) [random]")
    g.add_argument("--forget_num", type=cli.positive_int,
                   help="-> --num_indexes_to_replace (--mode random) [5000]")
    g.add_argument("--forget_class", type=int, help="-> --class_to_replace (class-wise modes) [0]")
    g.add_argument("--lr", type=float, help="-> --unlearn_lr (every method but retrain) [0.001]")
    g.add_argument("--epoches", type=cli.positive_int,
                   help="-> --unlearn_epochs (neggrad, bad_teaching, scrub) [1]")
    g.add_argument("--unlearn_epochs", type=cli.positive_int, help="-> --unlearn_epochs (salUN) [1]")
    g.add_argument("--batch_size", type=cli.positive_int,
                   help="-> --batch_size (retrain: the original model's) [256]")
    g.add_argument("--loss_weight", type=cli.non_negative_float,
                   help="-> --ssl_weight (bad_teaching, scrub); 0: no SSL term [0]")
    g.add_argument("--supervised_mode", choices=SSL_MODES,
                   help="-> --ssl: simple -> simple, original -> contrastive (needs a SimCLR model: "
                        "python simclr.py --save_dir SAVED_DATA_PATH) [simple]")
    g.add_argument("--data_augment",
                   help="-> --augment_forget: simple, arpl (also spelt aplr), opengan; anything else "
                        "means none [None]")
    g.add_argument("--augment_num", type=cli.positive_int,
                   help="-> --augment_count (simple, arpl) [500]")
    g.add_argument("--saved_data_path",
                   help="-> --save_dir: the run folder main_train.py made [mu/saved_data]")
    g.add_argument("--data_name",
                   help="-> --dataset (cifar10 or any of this toolkit's: digits, synthetic, ...) "
                        "[the run folder's]")
    g.add_argument("--data_root", help="-> --data [the run folder's]")
    g.add_argument("--base_model",
                   help="-> --arch when it is the original model's architecture, else ignored")
    g.add_argument("--mask_path", help="-> --mask_path (salUN) [a mask at ratio 0.5, made in memory]")
    g.add_argument("--seed", type=int, help="-> --seed [2]")
    i = p.add_argument_group("accepted and ignored (listed on stderr when given)")
    for flag, why in IGNORED.items():
        i.add_argument(f"--{flag}", metavar="VALUE", help=why)
    return p


def parse_args(argv):
    """(args with the capstone's defaults filled in, names of the flags the user gave)."""
    args = build_parser().parse_args(argv)
    given = {name for name, value in vars(args).items() if value is not None}
    for name, value in DEFAULTS.items():
        if name not in given:
            setattr(args, name, value)
    return args, given


# ---- the run folder ------------------------------------------------------------------------------

@dataclass
class RunFolder:
    config: dict = field(default_factory=dict)  # the original model's flags (original/metrics.json)
    build: dict = field(default_factory=dict)   # how to rebuild it (original/model.json)


def read_run_folder(save_dir):
    """What the original model in `save_dir` was trained with; empty when it is missing (then
    main_forget.py says how to make it)."""
    original = Path(save_dir) / "original"
    metrics, meta = original / "metrics.json", original / "model.json"
    config = read_json(metrics, "original model metrics").get("config", {}) if metrics.exists() else {}
    build = read_json(meta, "original model description").get("build", {}) if meta.exists() else {}
    return RunFolder(config, build)


def check(args, given, run):
    """Bad values and combinations, in the capstone's flag names, before anything runs."""
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UserError(f"--lr must be a finite number > 0, got {args.lr}")
    if args.mode != "random":
        classes = run.build.get("num_classes")
        if args.forget_class < 0 or (classes is not None and args.forget_class >= classes):
            span = f"0..{classes - 1}" if classes else "a class number >= 0"
            raise UserError(f"--mode {args.mode} forgets one class: --forget_class must be {span}, "
                            f"got {args.forget_class}")
    if "data_name" in given and args.data_name not in datasets.LOADERS:
        raise UserError(f"--data_name {args.data_name} is not a data set of this toolkit; choose one of "
                        f"{', '.join(sorted(datasets.LOADERS))}")


# ---- translation ---------------------------------------------------------------------------------

def data_flags(args, given, run):
    """--dataset/--data: the user's, else those of the original model (the run folder fixes the
    data; the capstone's cifar10 default would contradict a digits run)."""
    dataset = args.data_name if "data_name" in given else run.config.get("dataset")
    if dataset is None:
        return []
    argv = ["--dataset", dataset]
    same = dataset == run.config.get("dataset")
    root = args.data_root if "data_root" in given else run.config.get("data") if same else None
    if root:
        argv += ["--data", root]
    if same and dataset == "synthetic":  # the synthetic set is rebuilt from these
        argv += ["--synth_n", str(run.config["synth_n"]), "--synth_shape", run.config["synth_shape"],
                 "--synth_label_noise", str(run.config["synth_label_noise"])]
    return argv


def arch_flags(args, given, run):
    if "base_model" not in given:
        return [], []
    arch = run.build.get("arch")
    if args.base_model == arch:
        return ["--arch", arch], []
    why = f"the original model in {args.saved_data_path} is a {arch}" if arch else \
        "no original model to check it against"
    return [], [f"--base_model {args.base_model} ({why})"]


def forget_set_flags(args, given):
    if args.mode == "random":
        return ["--num_indexes_to_replace", str(args.forget_num)], \
            ["--forget_class (--mode random)"] if "forget_class" in given else []
    return ["--class_to_replace", str(args.forget_class)], \
        ["--forget_num (class-wise forgetting takes the whole class)"] if "forget_num" in given else []


def retrain_recipe(config):
    """Flags that make `--unlearn retrain` train exactly like the retrain reference (the original
    model's epochs, LR, batch size, momentum, weight decay and augmentation), so the run's figures
    are the reference's."""
    if not config:
        return []
    argv = ["--unlearn_epochs", str(config["epochs"]), "--unlearn_lr", str(config["lr"]),
            "--batch_size", str(config["batch_size"]), "--momentum", str(config["momentum"]),
            "--weight_decay", str(config["weight_decay"])]
    return argv + (["--no_aug"] if config["no_aug"] else [])


def method_flags(args, given, run):
    """Optimisation flags; the capstone's SalUn counted epochs with --unlearn_epochs, the others
    with --epoches, and only SalUn read --mask_path."""
    if args.method == "retrain":
        unused = [f for f in ("lr", "epoches", "unlearn_epochs", "batch_size", "mask_path") if f in given]
        return retrain_recipe(run.config), [f"--{f} (retrain trains with the original model's recipe)"
                                            for f in unused]
    epochs, other = ("unlearn_epochs", "epoches") if args.method == "salUN" else ("epoches", "unlearn_epochs")
    argv = ["--unlearn_lr", str(args.lr), "--unlearn_epochs", str(vars(args)[epochs]),
            "--batch_size", str(args.batch_size)]
    ignored = [f"--{other} ({args.method} counts epochs with --{epochs})"] if other in given else []
    if "mask_path" in given:
        if args.method == "salUN":
            argv += ["--mask_path", args.mask_path]
        else:
            ignored.append("--mask_path (only salUN reads it)")
    return argv, ignored


def ssl_flags(args, given):
    if args.method not in SSL_METHODS:
        unused = ["--loss_weight"] if args.loss_weight > 0 else []  # 0 asks for no SSL term: none is run
        unused += ["--supervised_mode"] if "supervised_mode" in given else []
        return [], [f"{f} (the capstone's SSL term is for bad_teaching and scrub only)" for f in unused]
    if args.loss_weight == 0:
        return [], ["--supervised_mode (--loss_weight 0: no SSL term)"] if "supervised_mode" in given else []
    return ["--ssl", SSL_MODES[args.supervised_mode], "--ssl_weight", str(args.loss_weight)], []


def augment_flags(args, given):
    kind = AUGMENTS.get(args.data_augment)
    count_given = "augment_num" in given
    if kind is None:
        ignored = [] if args.data_augment in NO_AUGMENT else \
            [f"--data_augment {args.data_augment} (not simple, arpl or opengan: no augmentation, as in "
             "the capstone)"]
        return [], ignored + (["--augment_num (no augmentation)"] if count_given else [])
    if args.method == "retrain":
        return [], [f"--{f} (retrain never sees the forget set)" for f in ("data_augment", "augment_num")
                    if f in given]
    if kind == "opengan":
        return ["--augment_forget", "opengan"], \
            ["--augment_num (opengan makes one target per forget example)"] if count_given else []
    return ["--augment_forget", kind, "--augment_count", str(args.augment_num)], []


def variant_tag(argv):
    """main_forget's --tag for an add-on variant, so that it does not overwrite the plain run of
    the same method and forget set (scripts/capstone_sweep.sh's names, without its cap- prefix)."""
    parts = [f"{prefix}-{argv[argv.index(flag) + 1]}"
             for flag, prefix in (("--ssl", "ssl"), ("--augment_forget", "aug")) if flag in argv]
    return ["--tag", "_".join(parts)] if parts else []


@dataclass
class Translation:
    argv: list     # main_forget.py's flags
    ignored: list  # "--flag (why)" for each flag the user gave that changes nothing


def translate(args, given, run):
    """The main_forget.py flags for the capstone's `args` (see parse_args) on run folder `run`."""
    argv = ["--save_dir", args.saved_data_path, "--unlearn", METHODS[args.method], "--seed", str(args.seed)]
    argv += data_flags(args, given, run)
    ignored = []
    for more, skipped in (arch_flags(args, given, run), forget_set_flags(args, given),
                          method_flags(args, given, run), ssl_flags(args, given), augment_flags(args, given)):
        argv += more
        ignored += skipped
    argv += variant_tag(argv)
    ignored += [f"--{flag} ({why})" for flag, why in IGNORED.items() if flag in given]
    return Translation(argv, ignored)


# ---- run -----------------------------------------------------------------------------------------

def capstone_figures(metrics):
    """The capstone's printout: accuracies on Df / Dr / Dt, its five MIA figures, the geo metric."""
    acc, geo = metrics["accuracy"], metrics["geo_metric"]
    text = f"AccDf {acc['forget']:.2f}  AccDr {acc['retain']:.2f}  AccDt {acc['test']:.2f}"
    if "test_forgotten_classes" in acc:  # class-wise: the forgotten class's test accuracy too
        text += f"  AccDt(forgotten class) {acc['test_forgotten_classes']:.2f}"
    text += "  MIA " + " ".join(f"{name} {value:.3f}" for name, value in metrics["mia"].items())
    return text + ("  Geo_metric n/a" if geo is None else f"  Geo_metric {geo:.2f}")


@cli_main
def main(argv=None):
    args, given = parse_args(argv)
    if not args.saved_data_path:
        raise UserError("--saved_data_path is empty: name the run folder, e.g. the one made by "
                        "python main_train.py --save_dir mu/saved_data")
    run = read_run_folder(args.saved_data_path)
    check(args, given, run)
    t = translate(args, given, run)
    print("main_forget.py " + shlex.join(t.argv))
    if t.ignored:
        print(f"mu_main.py: ignored: {'; '.join(t.ignored)}", file=sys.stderr)
    return main_forget.run(unlearn_config(main_forget.build_parser().parse_args(t.argv)), capstone_figures)


if __name__ == "__main__":
    raise SystemExit(main())
