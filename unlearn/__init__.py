"""Registry of unlearning methods (`--unlearn`). A method is one module and one decorator that
says everything the rest of the code needs to know about it:

    @register("NG", "NegGrad+", defaults={"unlearn_epochs": 5, "unlearn_lr": 0.01, "alpha": 0.99},
              checks={"alpha": Range(0, 1)}, uses={"forget", "retain"}, forget_weight=lambda c: 1 - c.alpha)
    def neggrad_plus(model, data, cfg):   # -> the unlearned model
        ...

`data` is an `UnlearnData` (forget / retain / val / test as index-tracked tensor sets on the
device, the frozen original model, a factory for a freshly initialised model, and the loaded
extras: a weight mask, a regularizer); `cfg` is the method's resolved, frozen `MethodConfig`.
Methods do not evaluate, save or print: the caller does that once for all.

Layer: unlearn, beside `memorization` (neither imports the other), above `evaluation`; it may
import `engine`, `datasets`, `models` and `evaluation`. Subpackages: `methods` (one file a
method), `ssl` and `augment` (the capstone's add-ons, wired in by `addons`).
"""
import dataclasses
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from engine.errors import UserError
from engine.registry import Registry

if TYPE_CHECKING:  # for the annotations only
    from datasets.base import TensorSet

METHODS = Registry("--unlearn")

# the strength flags; each method gives defaults for those it reads
STRENGTHS = ("unlearn_epochs", "unlearn_lr", "alpha", "no_l1_epochs", "msteps", "kd_T", "beta",
             "gamma", "salun_ratio", "wf_samples")


@dataclass(frozen=True)
class Range:
    """A numeric flag's allowed values: finite, optionally integer, within [low, high]
    (`low_open`: strictly above low)."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    integer: bool = False

    def want(self):
        text = "an integer" if self.integer else "a finite number"
        if self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            text += f" and <= {self.high}"
        return text

    def holds(self, value):
        try:
            ok = math.isfinite(float(value)) and (not self.integer or float(value) == int(value))
        except (TypeError, ValueError):
            return False
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        return ok and (self.high is None or value <= self.high)


ITERATIVE = {"unlearn_epochs": Range(1, integer=True), "unlearn_lr": Range(0, low_open=True)}
RUN_CHECKS = {"batch_size": Range(1, integer=True), "momentum": Range(0), "weight_decay": Range(0),
              "warmup": Range(0)}


@dataclass(frozen=True)
class MethodConfig:
    """What a method reads: its resolved strengths (None where it reads none) and the run's
    optimiser settings. Built by `resolve`, never changed afterwards."""
    unlearn: str = "FT"
    unlearn_epochs: int | None = None
    unlearn_lr: float | None = None
    alpha: float | None = None
    no_l1_epochs: int | None = None
    msteps: int | None = None
    kd_T: float | None = None
    beta: float | None = None
    gamma: float | None = None
    salun_ratio: float | None = None
    wf_samples: int | None = None
    batch_size: int = 128
    seed: int = 2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: float = 0
    mask_path: str | None = None


@dataclass(frozen=True)
class Method:
    """A registered method and what it says about itself."""
    name: str
    run: Callable
    defaults: dict
    checks: object           # {flag: Range}, or cfg -> {flag: Range} when a bound depends on cfg
    uses: frozenset          # which parts of UnlearnData it reads: forget, retain, original, fresh
    loop: bool               # has a training loop (add-ons can add a loss term to it)
    scratch: bool            # trains a new model instead of changing the given one (retrain)
    forget_weight: Callable  # cfg -> weight of its forget objective (add-ons scale theirs by it)
    opengan: str | None      # how generated forget features enter it (unlearn/augment/opengan.py)
    summary: str

    @property
    def iterative(self):
        return "unlearn_epochs" in self.defaults

    def why_not_forget_objective(self):
        """Why an add-on cannot feed this method extra forget examples, or None if it can."""
        if self.scratch:
            return "trains a new model from scratch"
        if not self.loop:
            return "has no training loop"
        if "forget" not in self.uses:
            return "trains on the retain set only"
        return None


def register(name, *aliases, defaults=None, checks=None, uses=("forget", "retain"), loop=True,
             scratch=False, forget_weight=lambda cfg: 1.0, opengan=None, summary=None):
    """Register a method under `name` (and RUM's / the capstone's spellings); `summary` is its one
    line in `python -m unlearn list` (default: its docstring's first line)."""
    def deco(fn):
        doc = summary or (fn.__doc__ or "").strip().split("\n")[0]
        METHODS.add(name, Method(name, fn, dict(defaults or {}), checks or {}, frozenset(uses),
                                 loop, scratch, forget_weight, opengan, doc), aliases)
        return fn
    return deco


def canonical(name):
    return METHODS.canonical(name)


def get_method(name):
    return METHODS.lookup(name)


# Per-data-set defaults chosen by a validation-split search (scripts/sweep_strength.sh
# --write_defaults); the methods' own defaults are the papers' CIFAR settings, which on the small
# embedded data sets leave several methods without a measurable effect.
TUNED_FILE = Path(__file__).with_name("tuned_defaults.json")


def searched_defaults():
    """{data set: {method: {flag: value}}} of TUNED_FILE ({} without it)."""
    return json.loads(TUNED_FILE.read_text())["datasets"] if TUNED_FILE.exists() else {}


def tuned_defaults(dataset):
    """{method: {flag: value}} searched for `dataset` ({} when it has no search)."""
    return searched_defaults().get(dataset, {})


def method_defaults_for(method, dataset):
    """The method's defaults on `dataset`: its own, with the searched ones for the data set on top."""
    return {**method.defaults, **tuned_defaults(dataset).get(method.name, {})}


def resolve(name, dataset=None, **given):
    """The MethodConfig of `name`: the values given (None = unset), then the method's defaults for
    `dataset` (searched ones first, see TUNED_FILE); every value the method reads is checked.
    One-line UserError naming the flag otherwise."""
    method = get_method(name)
    values = {k: v for k, v in given.items() if v is not None}
    unknown = set(values) - {f.name for f in fields(MethodConfig)}
    if unknown:
        raise TypeError(f"not method settings: {sorted(unknown)}")
    defaults = method_defaults_for(method, dataset)
    strengths = {k: values.get(k, defaults.get(k)) for k in STRENGTHS}
    cfg = MethodConfig(**{**values, **strengths, "unlearn": method.name})
    own = method.checks(cfg) if callable(method.checks) else method.checks
    checks = {**(ITERATIVE if method.iterative else {}), **own, **RUN_CHECKS}
    for flag, rule in checks.items():
        value = vars(cfg)[flag]
        if not rule.holds(value):
            raise UserError(f"--{flag} must be {rule.want()} for --unlearn {method.name}, got {value}")
    return cfg


@dataclass
class UnlearnData:
    """What a method works on. Parts the method does not declare in `uses` are withheld (None):
    `retrain` never receives the forget set."""
    forget: "TensorSet"
    retain: "TensorSet"
    val: "TensorSet"
    test: "TensorSet"
    num_classes: int
    original: torch.nn.Module          # frozen copy of the model unlearning starts from
    fresh_model: Callable[[], torch.nn.Module]  # new randomly initialised model, on the device
    mask: dict | None = None           # {parameter name: 0/1 tensor}: only weights inside change
    regularizer: Callable | None = None  # extra loss term(model) added in every step (add-ons)


def run_method(name, model, data, cfg):
    method = get_method(name)
    hidden = {"forget": "forget", "original": "original", "fresh": "fresh_model"}
    withheld = {attr: None for part, attr in hidden.items() if part not in method.uses}
    return method.run(model, dataclasses.replace(data, **withheld), cfg)


from . import methods  # noqa: E402,F401  (registration)
