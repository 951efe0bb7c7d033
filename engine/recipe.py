"""Training recipes selected by --recipe. `default` is the project's plain recipe (nothing here
changes it). `fast` is the airbench-style recipe for the fast CIFAR network (models/fastnet.py):

- label smoothing 0.2 in the cross-entropy;
- Nesterov SGD, LR linearly warmed up (per step) over the first 20% of epochs (unless --warmup
  is given), then linearly decayed per epoch to 0 (scheduler `linear`);
- alternating flip: where the data set flips at all, each example is flipped on alternate epochs
  (its phase a fixed pseudo-random bit of its index) instead of by a coin toss each epoch
  (`datasets.base.alternating_flip`);
- patch-whitening initialisation of the first layer from the training data (models that have one);
- test-time flip averaging in evaluation (`FlipTTA`) where the data set flips.
"""
from dataclasses import dataclass, replace

import torch.nn.functional as F
from torch import nn

RECIPES = ("default", "fast")
FAST = {"label_smoothing": 0.2, "nesterov": True, "scheduler": "linear", "warmup_fraction": 0.2}
WHITEN_SAMPLE = 5000


@dataclass(frozen=True)
class OptimFlags:
    """How a model is trained from scratch: the optimiser, the schedule and the recipe, resolved
    (under `--recipe fast` the values the recipe fixes are already filled in)."""
    epochs: int = 30
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    decreasing_lr: tuple = (91, 136)
    gamma_lr: float = 0.1
    warmup: float = 0
    recipe: str = "default"
    nesterov: bool = False
    label_smoothing: float = 0.0


def resolve(flags):
    """`flags` with what --recipe fixes filled in (the default recipe changes nothing)."""
    if flags.recipe != "fast":
        return flags
    return replace(flags, scheduler=FAST["scheduler"], nesterov=FAST["nesterov"],
                   label_smoothing=FAST["label_smoothing"],
                   warmup=flags.warmup or FAST["warmup_fraction"] * flags.epochs)


def trainer_kwargs(cfg, steps_per_epoch):
    """engine.train.Trainer's optimisation arguments from resolved OptimFlags."""
    return {"lr": cfg.lr, "epochs": cfg.epochs, "momentum": cfg.momentum,
            "weight_decay": cfg.weight_decay, "scheduler": cfg.scheduler,
            "milestones": cfg.decreasing_lr, "gamma": cfg.gamma_lr, "warmup": cfg.warmup,
            "steps_per_epoch": steps_per_epoch, "nesterov": cfg.nesterov}


def is_fast(cfg):
    return cfg.recipe == "fast"


def loss(logits, y, cfg, **kw):
    """Cross-entropy with the recipe's label smoothing (none under the default recipe)."""
    return F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing, **kw)


class FlipTTA(nn.Module):
    """Evaluation wrapper: logits averaged over the image and its horizontal mirror."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.fc = model.fc

    def forward(self, x, **kw):
        return 0.5 * (self.model(x, **kw) + self.model(x.flip(-1), **kw))


def for_eval(model, args, tset):
    """The model to evaluate with: flip-averaged under the fast recipe on data sets that flip."""
    if is_fast(args) and tset.augment.get("flip"):
        return FlipTTA(model)
    return model
