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
import torch
import torch.nn.functional as F
from torch import nn

RECIPES = ("default", "fast")
FAST = {"label_smoothing": 0.2, "nesterov": True, "scheduler": "linear", "warmup_fraction": 0.2}
WHITEN_SAMPLE = 5000


def is_fast(args):
    return getattr(args, "recipe", "default") == "fast"


def apply(args):
    """Fill the optimisation flags the fast recipe fixes (idempotent); `default` is untouched."""
    if is_fast(args):
        args.scheduler = FAST["scheduler"]
        args.nesterov = FAST["nesterov"]
        args.label_smoothing = FAST["label_smoothing"]
        if not args.warmup:
            args.warmup = FAST["warmup_fraction"] * args.epochs
    return args


def loss(logits, y, args, **kw):
    smoothing = getattr(args, "label_smoothing", 0.0)
    if smoothing:
        return F.cross_entropy(logits, y, label_smoothing=smoothing, **kw)
    return F.cross_entropy(logits, y, **kw)


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
