"""The frozen config of each workflow, built once from the parsed flags with every default
resolved (save folder, training recipe, the method's strengths). See engine/config.py."""
import argparse
from dataclasses import dataclass, field

import unlearn
from datasets import DataFlags
from datasets.forget_sets import ForgetFlags, check_group
from engine import recipe
from engine.config import NOT_RECORDED, RunFlags, from_args
from engine.errors import UserError
from engine.recipe import OptimFlags
from memorization.proxies import MODEL_PROXIES, ProxyFlags, check_settings
from unlearn import STRENGTHS, MethodConfig
from unlearn.addons import AddonFlags


@dataclass(frozen=True)
class TrainConfig(DataFlags, RunFlags, OptimFlags):
    """main_train.py: the original model."""
    resume: bool = False


@dataclass(frozen=True)
class ForgetRunFlags:
    """Where an unlearning run starts, its reference's recipe and what it keeps."""
    start_model: str | None = None
    retrain_epochs: int | None = None
    retrain_lr: float | None = None
    save_model: bool = False
    tag: str | None = None
    skip_existing: bool = False


@dataclass(frozen=True)
class FigureFlags:
    """Figures written next to metrics.json."""
    tsne: bool = False
    cka: bool = False
    confusion: bool = False


@dataclass(frozen=True)
class UnlearnConfig(DataFlags, RunFlags, ForgetFlags, AddonFlags, ForgetRunFlags, FigureFlags):
    """main_forget.py / main_random.py: one method on one forget set. `method` holds the method's
    resolved strengths; `strengths_given` the strength flags as typed (None = unset), which RUM
    applies to the method of every step."""
    method: MethodConfig = field(default_factory=MethodConfig)
    strengths_given: tuple = field(default=(), metadata=NOT_RECORDED)


@dataclass(frozen=True)
class RumConfig(UnlearnConfig, ProxyFlags):
    """main_rum.py: a sequence of (part, method) steps on one forget set; with `requests`, on each
    of that many requests in turn (the proxy flags say how their scores are recomputed)."""
    variant: str = "rum"
    order: str = "low,mid,high"
    rum_methods: str = "none,FT,SalUn"
    rum_lrs: str | None = None
    rum_epochs: str | None = None
    rum_alphas: str | None = None
    retain_rule: str = "paper"
    requests: int | None = None
    frozen_scores: bool = False


@dataclass(frozen=True)
class MaskConfig(DataFlags, RunFlags, ForgetFlags):
    """generate_mask.py: SalUn masks of one forget set."""
    start_model: str | None = None
    thresholds: tuple = (0.5,)
    legacy_bottom: bool = False
    mask_dir: str | None = None
    unlearn_epochs: int = 1


def save_dir_of(args):
    return args.save_dir or f"runs/{args.dataset}"


def optim_of(args):
    """The resolved training recipe of the parsed flags."""
    return recipe.resolve(from_args(OptimFlags, args, decreasing_lr=tuple(args.decreasing_lr)))


def train_config(args):
    return from_args(TrainConfig, {**vars(args), **vars(optim_of(args))}, save_dir=save_dir_of(args))


def forget_set_config(args, cls, **resolved):
    """A config of a command that builds a forget set (its flags as parsed, save folder resolved)."""
    classes = tuple(args.class_to_replace) if args.class_to_replace is not None else None
    return from_args(cls, args, save_dir=save_dir_of(args), class_to_replace=classes, **resolved)


def method_config(args, name=None, **overrides):
    """The MethodConfig of `name` (default --unlearn) for this run: the strengths typed on the
    command line, then `overrides`, then the method's defaults for the data set."""
    typed = {k: vars(args)[k] for k in STRENGTHS}
    return unlearn.resolve(name or args.unlearn, args.dataset, **{**typed, **overrides}, batch_size=args.batch_size,
                           seed=args.seed, momentum=args.momentum, weight_decay=args.weight_decay,
                           warmup=args.warmup, mask_path=args.mask_path)


def unlearn_config(args, cls=UnlearnConfig, **resolved):
    typed = tuple((k, vars(args)[k]) for k in STRENGTHS)
    return forget_set_config(args, cls, method=method_config(args), strengths_given=typed, **resolved)


# RUM's templates, for `--unlearn M` with no --variant / --rum_methods: M on every memorization
# part (RUM^F), with the per-part settings of the scalability paper's template where it has them
TEMPLATE_PARTS = {"NG": {"rum_alphas": "0.99,0.97,0.97", "rum_epochs": "5,5,10", "rum_lrs": "0.01,0.01,0.001"}}
DEFAULT_PLAN = {"variant": "rum", "rum_methods": "none,FT,SalUn", "unlearn": "FT"}


def rum_config(args):
    """The RUM plan: what was asked for; `--unlearn M` alone runs RUM's template for M (RUM^F with
    M on every part, NG with the template's per-part alpha/epochs/LR); nothing at all runs full
    RUM none,FT,SalUn. RUM's default forget set is `--mem mix`, unless another kind was asked for."""
    plan = {k: vars(args)[k] or DEFAULT_PLAN[k] for k in DEFAULT_PLAN}
    if args.unlearn is not None and args.variant is None and args.rum_methods is None:
        template = TEMPLATE_PARTS.get(unlearn.canonical(args.unlearn), {})
        plan.update(variant="rumf", **{k: v for k, v in template.items() if vars(args)[k] is None})
    kinds = (args.mem, args.group_index, args.forget_index_file, args.class_to_replace)
    if all(k is None for k in kinds):
        plan["mem"] = "mix"
    if args.sequential and args.retain_rule != "paper":
        raise UserError("--sequential is RUM's spelling of --retain_rule paper: drop one of it and "
                        f"--retain_rule {args.retain_rule}")
    cfg = unlearn_config(argparse.Namespace(**{**vars(args), **plan}), RumConfig)
    check_requests(cfg)
    return cfg


def check_requests(cfg):
    """Multi-request mode chooses every request by memorization scores it computes itself, from
    the model of the moment, so it needs a proxy computed from a model's weights."""
    if cfg.requests is None:
        if cfg.frozen_scores:
            raise UserError("--frozen_scores is the control of multi-request mode: add --requests S")
        return
    if cfg.mem_proxy not in MODEL_PROXIES:
        raise UserError(f"--requests recomputes the scores on the current model before each request: --mem_proxy "
                        f"must be one computed from a model's weights ({', '.join(MODEL_PROXIES)}), not "
                        f"{cfg.mem_proxy} (the heldout estimate and the learning-event proxies need training runs)")
    other = [flag for flag, value in (("--group_index", cfg.group_index), ("--forget_index_file", cfg.forget_index_file),
                                      ("--class_to_replace", cfg.class_to_replace), ("--mem_file", cfg.mem_file),
                                      ("--mask_path", cfg.method.mask_path)) if value is not None]
    if other:
        raise UserError(f"--requests chooses each request's forget set by --mem during the run: drop {other[0]}"
                        + (" (SalUn computes its mask from the current model)" if other[0] == "--mask_path" else ""))
    # checked here, not when request 1 is chosen: that comes after the proxy's first computation
    check_group(cfg.mem)
    if cfg.num_indexes_to_replace is None or cfg.num_indexes_to_replace < 1:
        raise UserError("--requests needs --num_indexes_to_replace N (> 0), the size of every request")
    check_settings(cfg.mem_proxy, cfg)


def step_method(cfg, name, overrides, keep_mask):
    """The MethodConfig of one RUM step: the strengths typed on the command line, the step's own
    overrides, then the method's defaults for the data set; the --mask_path mask only for the
    --unlearn method."""
    typed = {k: v for k, v in cfg.strengths_given}
    base = cfg.method
    return unlearn.resolve(name, cfg.dataset, **{**typed, **overrides}, batch_size=base.batch_size, seed=base.seed,
                           momentum=base.momentum, weight_decay=base.weight_decay, warmup=base.warmup,
                           mask_path=base.mask_path if keep_mask else None)
