"""Frozen run configuration. Every entry script parses its flags once, resolves every default
once (save folder, recipe, method strengths) and builds one immutable object; nothing writes to
it afterwards, and `metrics.json` / `config.json` record `record(config)`, so what is recorded is
what ran. Loaded things (a mask, shadow models) travel in a run context, never in the config.

A concern is one frozen dataclass (`RunFlags` below, `datasets.DataFlags`,
`engine.recipe.OptimFlags`, `datasets.forget_sets.ForgetFlags`, `unlearn.MethodConfig`, ...); a
command's config composes the concerns it uses, so library code reads `cfg.lr` or `cfg.save_dir`
from whichever command config it is given.
"""
import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class RunFlags:
    """Where a run writes, its seed and where it computes."""
    save_dir: str = "runs/digits"
    seed: int = 2
    device: str = "auto"
    arch: str | None = None
    batch_size: int = 128
    compile: bool = False
    threads: int | None = None


def from_args(cls, args, **resolved):
    """An instance of the frozen dataclass `cls` from a parsed namespace (or a dict): the fields it
    holds, then the resolved values given here; fields it lacks keep their defaults."""
    given = args if isinstance(args, dict) else vars(args)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in given.items() if k in names}, **resolved})


def freeze(args, **resolved):
    """A frozen snapshot of a command's parsed flags, for commands whose flags form one concern."""
    values = {**vars(args), **resolved}
    cls = dataclasses.make_dataclass("Flags", list(values), frozen=True)
    return cls(**values)


NOT_RECORDED = {"recorded": False}  # field metadata of a resolution aid that is not a flag


def record(config):
    """The flat {flag: value} dict a config is recorded as (nested concerns are merged in)."""
    out, values = {}, vars(config)
    for f in dataclasses.fields(config):
        value = values[f.name]
        if f.metadata.get("recorded") is False:
            continue
        if dataclasses.is_dataclass(value):
            out.update(record(value))
        else:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
