"""`SalUn` (Fan et al. 2024): random labelling restricted to the weights most salient for the
forget loss, and the saliency mask itself (also used by generate_mask.py)."""
import math

import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.seed import generator
from unlearn import Range, UnlearnData, register
from .random_label import train_with_random_labels

SALIENCY_AUGMENT = 104  # generator offset of the augmented saliency passes (unlearn/harness.py has 101-103)


def forget_gradient_saliency(model, forget, batch_size, passes=1, seed=0):
    """{param name: |sum over forget batches of grad(-CE_batch_mean)|} at the model's current,
    FIXED weights (RUM's code stepped an optimiser while accumulating; docs/deviations.md), eval
    mode (BatchNorm uses its running statistics). The first pass takes the batches in order
    without augmentation, so one pass (RUM's `--unlearn_epochs 1`) is deterministic; each further
    pass adds a fresh seeded augmentation of the forget set (on data sets that augment)."""
    was_training = model.training
    model.eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    total = {n: torch.zeros_like(p) for n, p in named}
    gen = generator(seed, SALIENCY_AUGMENT)
    for done in range(passes):
        for x, y in forget.batches(batch_size, augment=done > 0, generator=gen):
            grads = torch.autograd.grad(-F.cross_entropy(model(x), y), [p for _, p in named], allow_unused=True)
            for (n, _), g in zip(named, grads):
                if g is not None:
                    total[n] += g
    model.train(was_training)
    return {n: g.abs() for n, g in total.items()}


def masks_from_saliency(saliency, ratios, legacy_bottom=False):
    """{ratio: {name: 0/1 float mask}} keeping the floor(ratio * P) weights with the LARGEST
    saliency, ranked globally over all parameters, as SalUn does. `legacy_bottom=True`
    keeps the smallest instead, reproducing RUM's inverted mask. Ties break by position."""
    names = list(saliency)
    flat = torch.cat([saliency[n].detach().reshape(-1).float() for n in names])
    order = torch.argsort(flat, descending=not legacy_bottom, stable=True)
    out = {}
    for ratio in ratios:
        if not 0 <= float(ratio) <= 1:
            raise UserError(f"mask ratio must be in [0, 1], got {ratio}")
        keep = torch.zeros_like(flat)
        keep[order[:math.floor(float(ratio) * flat.numel())]] = 1.0
        masks, start = {}, 0
        for n in names:
            size = saliency[n].numel()
            masks[n] = keep[start:start + size].view_as(saliency[n]).clone()
            start += size
        out[ratio] = masks
    return out


@register("SalUn", "salun", "salUN", defaults={"unlearn_epochs": 10, "unlearn_lr": 0.1, "salun_ratio": 0.5},
          checks={"salun_ratio": Range(0, 1, low_open=True)}, opengan="random-label",
          summary="random labels through a mask of the weights most salient for the forget loss")
def salun(model, data: UnlearnData, cfg):
    """RL with a weight-saliency mask: the one loaded from --mask_path, otherwise computed here
    from the model unlearning starts from, keeping --salun_ratio of the weights."""
    mask = data.mask
    if mask is None:
        saliency = forget_gradient_saliency(model, data.forget, cfg.batch_size)
        mask = masks_from_saliency(saliency, [cfg.salun_ratio])[cfg.salun_ratio]
    return train_with_random_labels(model, data, cfg, "SalUn", mask=mask)
