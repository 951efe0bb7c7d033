"""Flags of the unlearning methods and their per-method defaults.

Every strength flag defaults to None on the command line and is filled by `apply_defaults` from
`DEFAULTS[canonical(--unlearn)]`, because one global default cannot suit every method (RUM's
`--alpha 0.2` is an NG weight, an L1 coefficient and an IU step scale at once, rum-spec S25).
"""
import math

from engine.errors import UserError
from . import canonical

# Per method: the flags it reads and their defaults. Sources: RUM README command block
# (rum-spec §1 table) for epochs/lr, the capstone README for bad-teaching (capstone-spec §2.2),
# and docs/deviations.md "Unlearning methods" for the choices RUM leaves open.
DEFAULTS = {
    "original": {},
    "retrain": {"unlearn_epochs": 30, "unlearn_lr": 0.1},
    "FT": {"unlearn_epochs": 10, "unlearn_lr": 0.01},
    "l1-sparse": {"unlearn_epochs": 10, "unlearn_lr": 0.01, "alpha": 5e-4, "no_l1_epochs": 0},
    "GA": {"unlearn_epochs": 5, "unlearn_lr": 1e-4},
    "NG": {"unlearn_epochs": 5, "unlearn_lr": 0.01, "alpha": 0.99},
    "SCRUB": {"unlearn_epochs": 5, "unlearn_lr": 5e-3, "msteps": 4, "kd_T": 4.0, "beta": 0.001,
              "gamma": 0.99},
    "wfisher": {"alpha": 0.2, "wf_samples": 1000},
    "RL": {"unlearn_epochs": 10, "unlearn_lr": 0.1},
    "SalUn": {"unlearn_epochs": 10, "unlearn_lr": 0.1, "salun_ratio": 0.5},
    "bad-teaching": {"unlearn_epochs": 2, "unlearn_lr": 0.005, "kd_T": 1.0},
}

METHOD_FLAGS = ("unlearn_epochs", "unlearn_lr", "alpha", "no_l1_epochs", "msteps", "kd_T", "beta",
                "gamma", "salun_ratio", "wf_samples")

# Flags the calling script owns; filled only when a library user builds cfg without them.
RUN_DEFAULTS = {"batch_size": 128, "seed": 2, "momentum": 0.9, "weight_decay": 5e-4, "warmup": 0,
                "mask": None}


def add_method_args(parser):
    g = parser.add_argument_group("unlearning method (unset strengths take the method's default; "
                                  "see unlearn/options.py DEFAULTS)")
    g.add_argument("--unlearn", default="FT",
                   help="retrain | FT | l1-sparse (FT_prune) | GA (NegGrad) | NG (NegGrad+) | SCRUB | "
                        "wfisher | RL (RL_og) | SalUn | bad-teaching")
    g.add_argument("--unlearn_epochs", type=int, default=None, help="epochs of the iterative methods")
    g.add_argument("--unlearn_lr", type=float, default=None, help="SGD learning rate of the method")
    g.add_argument("--alpha", type=float, default=None,
                   help="NG: retain weight in [0,1]; l1-sparse: L1 coefficient; wfisher: step scale")
    g.add_argument("--no_l1_epochs", "--no-l1-epochs", dest="no_l1_epochs", type=int, default=None,
                   help="l1-sparse: trailing epochs without the L1 term")
    g.add_argument("--msteps", type=int, default=None, help="SCRUB: epochs with a max (forget) pass")
    g.add_argument("--kd_T", type=float, default=None, help="SCRUB / bad-teaching: KD temperature")
    g.add_argument("--beta", type=float, default=None, help="SCRUB: weight of the KL term on retain")
    g.add_argument("--gamma", type=float, default=None, help="SCRUB: weight of the CE term on retain")
    g.add_argument("--mask_path", default=None,
                   help="weight mask from generate_mask.py: only weights inside it change "
                        "(SalUn / RL; honoured by every method except retrain)")
    g.add_argument("--salun_ratio", type=float, default=None,
                   help="SalUn: fraction of weights kept trainable when the mask is computed here")
    g.add_argument("--wf_samples", type=int, default=None,
                   help="wfisher: retain examples in the WoodFisher recursion (also its damping N)")
    return g


def apply_defaults(cfg):
    """Fill the unset method flags from DEFAULTS, check the ones the method reads; returns cfg."""
    name = canonical(cfg.unlearn)
    table = DEFAULTS[name]
    for key in METHOD_FLAGS:
        if getattr(cfg, key, None) is None:
            setattr(cfg, key, table.get(key))
    for key, value in RUN_DEFAULTS.items():
        if not hasattr(cfg, key):
            setattr(cfg, key, value)
    _validate(cfg, name, table)
    return cfg


def _bad(flag, value, want, name):
    raise UserError(f"--{flag} must be {want} for --unlearn {name}, got {value}")


def _number(cfg, flag, name, low=None, high=None, low_open=False, integer=False):
    value = getattr(cfg, flag)
    want = "an integer" if integer else "a finite number"
    if low is not None:
        want += f" {'>' if low_open else '>='} {low}"
    if high is not None:
        want += f" and <= {high}"
    try:
        ok = math.isfinite(float(value)) and (not integer or float(value) == int(value))
    except (TypeError, ValueError):
        ok = False
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        _bad(flag, value, want, name)


def _validate(cfg, name, table):
    if "unlearn_epochs" in table:
        _number(cfg, "unlearn_epochs", name, 1, integer=True)
        _number(cfg, "unlearn_lr", name, 0, low_open=True)
    if name == "NG":
        _number(cfg, "alpha", name, 0, 1)
    elif name == "l1-sparse":
        _number(cfg, "alpha", name, 0)
        _number(cfg, "no_l1_epochs", name, 0, cfg.unlearn_epochs, integer=True)
    elif name == "wfisher":
        _number(cfg, "alpha", name)
        _number(cfg, "wf_samples", name, 1, integer=True)
    elif name == "SCRUB":
        _number(cfg, "msteps", name, 0, integer=True)
        for flag in ("beta", "gamma"):
            _number(cfg, flag, name, 0)
    elif name == "SalUn":
        _number(cfg, "salun_ratio", name, 0, 1, low_open=True)
    if "kd_T" in table:
        _number(cfg, "kd_T", name, 0, low_open=True)
    for flag in ("batch_size",):
        _number(cfg, flag, name, 1, integer=True)
    for flag in ("momentum", "weight_decay", "warmup"):
        _number(cfg, flag, name, 0)
