"""The flag groups the entry scripts share (RUM's flag names). Each group parses into one concern
of the frozen run config (workflows/config.py); the validators are engine/cli.py's."""
import argparse

from engine.cli import fraction, int_list, non_negative_float, non_negative_int, parser, positive_float, positive_int


def add_data_args(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits",
                   help="digits | synthetic | cifar10 | cifar100 | svhn | tinyimagenet")
    g.add_argument("--data", default=None, help="folder holding the data set files (real data sets)")
    g.add_argument("--download", action="store_true", help="download the data set into --data first")
    g.add_argument("--val_size", type=fraction, default=None,
                   help="fraction of each class carved out of train as validation (default 0.1; "
                        "fixed by the first script that uses --save_dir)")
    g.add_argument("--split_seed", type=non_negative_int, default=0, help="seed of the validation carve-out")
    g.add_argument("--no_aug", action="store_true", help="train without augmentation")
    s = p.add_argument_group("synthetic data (--dataset synthetic)")
    s.add_argument("--synth_n", type=positive_int, default=2000, help="training examples")
    s.add_argument("--synth_shape", default="1x8x8", help="CxHxW, e.g. 3x32x32 for CIFAR-shaped")
    s.add_argument("--synth_label_noise", type=fraction, default=0.03, help="fraction of flipped labels")
    return g


def add_run_args(p):
    g = p.add_argument_group("run")
    g.add_argument("--arch", default=None, help="model architecture (default: the data set's)")
    g.add_argument("--save_dir", default=None, help="output folder (default runs/<dataset>)")
    g.add_argument("--seed", type=non_negative_int, default=2, help="seed of this run")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    g.add_argument("--batch_size", type=positive_int, default=128,
                   help="examples per SGD step (training, unlearning and the retrain reference's recipe)")
    g.add_argument("--compile", action="store_true",
                   help="torch.compile the model (CUDA only; refused on CPU, where it does not pay off)")
    g.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads of this process (default: OMP_NUM_THREADS when set, else 1, since the "
                        "models are small and runs go side by side; raise it for a large model alone)")
    return g


def add_optim_args(p, epochs=30, lr=0.1):
    g = p.add_argument_group("optimisation")
    add_recipe_args(g, epochs, lr)
    g.add_argument("--momentum", type=non_negative_float, default=0.9)
    g.add_argument("--weight_decay", type=non_negative_float, default=5e-4)
    g.add_argument("--warmup", type=non_negative_int, default=0, help="linear warm-up epochs (per iteration)")
    return g


def add_recipe_args(g, epochs=30, lr=0.1):
    """The training recipe's own flags (momentum, weight decay and warm-up are shared with the
    unlearning methods in the unlearning scripts, so they are added apart)."""
    g.add_argument("--epochs", type=positive_int, default=epochs,
                   help="passes over the training set (of the model trained here; in the unlearning "
                        "scripts, of the original model, see --retrain_epochs for the reference)")
    g.add_argument("--lr", type=non_negative_float, default=lr, help="peak SGD learning rate of the schedule")
    g.add_argument("--scheduler", choices=("cosine", "multistep", "constant", "linear"), default="cosine")
    g.add_argument("--decreasing_lr", type=int_list, default=[91, 136],
                   help="milestones of --scheduler multistep")
    g.add_argument("--gamma_lr", type=non_negative_float, default=0.1, help="multistep decay factor")
    g.add_argument("--recipe", choices=("default", "fast"), default="default",
                   help="fast: airbench-style recipe for --arch fastnet (label smoothing 0.2, Nesterov, "
                        "warm-up + linear decay, alternating flip, flip TTA, whitening init; "
                        "engine/recipe.py)")
    return g


def add_forget_set_args(p):
    g = p.add_argument_group("forget set (one kind; default: random)")
    g.add_argument("--num_indexes_to_replace", type=int, default=None,
                   help="forget-set size (per group for --mem/--group_index)")
    g.add_argument("--class_to_replace", type=int_list, default=None,
                   help="class(es) to forget: all of them, or N of them with --num_indexes_to_replace")
    g.add_argument("--mem", default=None, help="memorization group: high | mid | low | mix")
    g.add_argument("--mem_proxy", default="heldout",
                   help="score behind --mem: heldout, confidence, max_conf, entropy, bi_acc, ho_ret, curvature")
    g.add_argument("--allow_overlap", action="store_true",
                   help="let --mem high/mid/low groups share examples when three groups of "
                        "--num_indexes_to_replace do not fit in the training set (otherwise an error)")
    g.add_argument("--mem_file", default=None,
                   help="score .npz (default <save_dir>/memorization/<mem_proxy>.npz)")
    g.add_argument("--group_index", type=int, default=None,
                   help="entanglement group 0..14 by distance to the centroid (-1: mix of 3/12/14)")
    g.add_argument("--forget_index_file", default=None, help=".json/.npy/.txt of original indices")
    return g


def method_choices():
    """`FT | l1-sparse (FT_prune, FT_l1) | ...`: every registered method with its other spellings."""
    from unlearn import METHODS
    aliases = {}
    for alias, name in METHODS.aliases.items():
        aliases.setdefault(name, []).append(alias)
    return " | ".join(name + (f" ({', '.join(aliases[name])})" if name in aliases else "") for name in METHODS)


def method_defaults(flag):
    """`FT 0.01 (digits 0.1), GA 0.0001, ...`: the default of a strength flag for each method that
    reads it, with the data sets whose searched default differs."""
    from unlearn import METHODS, searched_defaults
    searched = searched_defaults()

    def own(name, value):
        other = [f"{data} {tuned[name][flag]}" for data, tuned in searched.items()
                 if tuned.get(name, {}).get(flag, value) != value]
        return f"{name} {value}" + (f" ({', '.join(other)})" if other else "")
    return ", ".join(own(name, m.defaults[flag]) for name, m in METHODS.items() if flag in m.defaults)


STRENGTH_HELP = {
    "unlearn_epochs": "epochs of the iterative methods",
    "unlearn_lr": "SGD learning rate of the method",
    "alpha": "NG: retain weight in [0,1]; l1-sparse: L1 coefficient; wfisher: step scale",
    "no_l1_epochs": "l1-sparse: trailing epochs without the L1 term",
    "msteps": "SCRUB: epochs with a max (forget) pass",
    "kd_T": "SCRUB / bad-teaching: KD temperature",
    "beta": "SCRUB: weight of the KL term on retain",
    "gamma": "SCRUB: weight of the CE term on retain",
    "salun_ratio": "SalUn: fraction of weights kept trainable when the mask is computed here",
    "wf_samples": "wfisher: retain examples in the WoodFisher recursion (also its damping N)",
}
STRENGTH_TYPES = {"unlearn_epochs": int, "no_l1_epochs": int, "msteps": int, "wf_samples": int}


def add_method_args(p):
    g = p.add_argument_group("unlearning method (an unset strength takes the method's default for the data set: "
                             "searched on the validation split where the data set has a search, see "
                             "unlearn/tuned_defaults.json, else the papers' setting)")
    g.add_argument("--unlearn", default="FT", help=method_choices())
    for flag, text in STRENGTH_HELP.items():
        names = [f"--{flag}"] + (["--no-l1-epochs"] if flag == "no_l1_epochs" else [])
        g.add_argument(*names, dest=flag, type=STRENGTH_TYPES.get(flag, float), default=None,
                       help=f"{text} (default per method: {method_defaults(flag)})")
    g.add_argument("--mask_path", default=None,
                   help="weight mask from generate_mask.py: only weights inside it change "
                        "(SalUn / RL; honoured by every method except retrain)")
    return g


def add_addon_args(p):
    from unlearn import augment
    from unlearn.addons import SSL_MODES
    g = p.add_argument_group("capstone add-ons (self-supervision, forget-set augmentation)")
    g.add_argument("--ssl", default="none", choices=SSL_MODES,
                   help="self-supervised term added to the method's loss: simple (feature similarity "
                        "to a SimCLR model) or contrastive (NT-Xent, forget positives sign-flipped)")
    g.add_argument("--ssl_weight", type=float, default=0.5, help="lambda of the SSL term")
    g.add_argument("--ssl_temperature", type=float, default=1.0,
                   help="NT-Xent temperature of --ssl contrastive (the capstone's 1)")
    g.add_argument("--simclr_path", default=None,
                   help="SimCLR model folder from simclr.py (default <save_dir>/simclr)")
    g.add_argument("--augment_forget", default="none", choices=augment.KINDS,
                   help="extra forget examples for the method (never for evaluation)")
    g.add_argument("--augment_count", type=int, default=None,
                   help="number of augmented samples (default: the forget-set size)")
    g.add_argument("--generator_path", default=None,
                   help="arpl/opengan generator folder (default <save_dir>/augment/<kind>/<forget set>)")
    g.add_argument("--arpl_labels", default="nearest", choices=("nearest", "predicted", "random"),
                   help="labels of ARPL images: nearest forget example's, the model's prediction, "
                        "or uniform (the capstone)")
    return g


def add_figure_args(p):
    g = p.add_argument_group("figures next to metrics.json (the capstone's evaluation extras)")
    g.add_argument("--tsne", action="store_true",
                   help="tsne.png: forget/retain/test features before and after unlearning")
    g.add_argument("--cka", action="store_true",
                   help="cka.png / cka_retrain.png: layer-by-layer linear CKA of the unlearned model and of "
                        "the retrain reference against the original, on up to 1,000 forget examples")
    g.add_argument("--confusion", action="store_true", help="confusion.png: the test confusion matrix")
    return g


def add_unlearning_run_args(p):
    g = p.add_argument_group("unlearning run")
    g.add_argument("--start_model", default=None,
                   help="checkpoint folder to unlearn from (default <save_dir>/original)")
    g.add_argument("--momentum", type=non_negative_float, default=0.9)
    g.add_argument("--weight_decay", type=non_negative_float, default=5e-4)
    g.add_argument("--warmup", type=non_negative_int, default=0, help="linear warm-up epochs at --unlearn_lr")
    g.add_argument("--retrain_epochs", type=positive_int, default=None,
                   help="epochs of the retrain reference (default: the original model's)")
    g.add_argument("--retrain_lr", type=positive_float, default=None,
                   help="LR of the retrain reference (default: the original model's)")
    g.add_argument("--save_model", action="store_true", help="keep the unlearned weights")
    g.add_argument("--tag", default=None, help="suffix of the method folder, to keep variants apart")
    g.add_argument("--skip_existing", action="store_true",
                   help="do nothing if this run's metrics.json exists (sweeps resume this way)")
    return g


def unlearning_parser(doc):
    """The flags every unlearning entry script shares (main_forget.py and main_rum.py add their
    own on top)."""
    p = parser(doc)
    add_data_args(p)
    add_run_args(p)
    add_method_args(p)
    add_forget_set_args(p)
    add_unlearning_run_args(p)
    return p


def add_proxy_settings(g):
    """The settings of the proxies that score a model's weights (memorization.proxies.ProxyFlags)."""
    from memorization.proxies import ProxyFlags
    g.add_argument("--ft_lr", type=float, default=ProxyFlags.ft_lr, help="ho_ret: fine-tuning LR")
    g.add_argument("--ft_epochs", type=int, default=ProxyFlags.ft_epochs, help="ho_ret: at most this many epochs")
    g.add_argument("--patience", type=int, default=ProxyFlags.patience,
                   help="ho_ret: stop when the epoch loss has not improved for this many epochs")
    g.add_argument("--h", default=ProxyFlags.h, help="curvature: radius, or a comma list of radii to average")
    return g


def add_rum_args(p):
    from .rum import RETAIN_RULES, VARIANTS
    g = p.add_argument_group("RUM")
    g.add_argument("--variant", choices=VARIANTS, default="rum",
                   help="rum: a method per part; rumf: --unlearn for every refined part; "
                        "shuffle: random chunks; vanilla: the whole set at once. Default: rum, or "
                        "with only --unlearn M given RUM's template for M: rumf (NG: --rum_alphas "
                        "0.99,0.97,0.97 --rum_epochs 5,5,10 --rum_lrs 0.01,0.01,0.001)")
    g.add_argument("--order", default="low,mid,high", help="order in which the parts are unlearned")
    g.add_argument("--rum_methods", default="none,FT,SalUn", help="method per part (low,mid,high); none skips")
    g.add_argument("--rum_lrs", default=None, help="LR per part, e.g. 0.01,0.01,0.1 (default: each method's)")
    g.add_argument("--rum_epochs", default=None, help="epochs per part")
    g.add_argument("--rum_alphas", default=None, help="--alpha per part (NG, l1-sparse, wfisher)")
    g.add_argument("--retain_rule", choices=RETAIN_RULES, default="paper",
                   help="paper: retain excludes the parts done so far; complement: D minus the whole forget set")
    g.add_argument("--sequential", action="store_true", help="RUM's spelling of --retain_rule paper")
    r = p.add_argument_group("multi-request mode (the scalability paper): requests arrive one after another, "
                             "each chosen by memorization among the examples not yet forgotten")
    r.add_argument("--requests", "--unlearn_step", dest="requests", type=positive_int, default=None,
                   help="number of requests S (RUM: --unlearn_step S, the last request); each removes a --mem "
                        "set of --num_indexes_to_replace examples, refined and unlearned as the --variant says")
    r.add_argument("--frozen_scores", action="store_true",
                   help="control: select every request by the scores of the original model instead of "
                        "recomputing them on the current model before each request")
    add_proxy_settings(r)
    return g


_UNSET = object()


def given_flags(parser, argv):
    """The destinations of the flags typed in `argv` (not their defaults): argparse fills a
    default only where the namespace lacks the attribute, so every unset one stays a marker."""
    marked = argparse.Namespace(**{a.dest: _UNSET for a in parser._actions if a.dest != "help"})
    return {dest for dest, value in vars(parser.parse_args(argv, marked)).items() if value is not _UNSET}
