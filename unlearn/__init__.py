"""Registry of unlearning methods (`--unlearn`). One module a method, one decorator to register:

    @register("FT")
    def fine_tune(model, data, cfg):   # -> the unlearned model
        ...

`data` is an `UnlearnData` (forget / retain / val / test as index-tracked tensor sets on the
device, the frozen original model, and a factory for a freshly initialised model); `cfg` is the
parsed namespace. Methods do not evaluate, save or print: the caller does that once for all.
"""
from dataclasses import dataclass
from typing import Callable

import torch

from engine.errors import UserError

METHODS = {}
ALIASES = {}


def register(name, *aliases):
    def deco(fn):
        METHODS[name] = fn
        for a in aliases:
            ALIASES[a] = name
        return fn
    return deco


def canonical(name):
    """RUM's and the capstone's spellings map onto one method each."""
    name = ALIASES.get(name, name)
    if name not in METHODS:
        known = sorted(set(METHODS) | set(ALIASES))
        raise UserError(f"unknown --unlearn {name!r}; choose one of {', '.join(known)}")
    return name


def get_method(name):
    return METHODS[canonical(name)]


@dataclass
class UnlearnData:
    forget: "TensorSet"
    retain: "TensorSet"
    val: "TensorSet"
    test: "TensorSet"
    num_classes: int
    original: torch.nn.Module          # frozen copy of the model unlearning starts from
    fresh_model: Callable[[], torch.nn.Module]  # new randomly initialised model, on the device


def run_method(name, model, data, cfg):
    return get_method(name)(model, data, cfg)


from . import methods  # noqa: E402,F401  (registration)
