"""`NG` (NegGrad+): descend on retain and ascend on forget in the same step."""
import torch.nn.functional as F

from unlearn import Range, UnlearnData, register
from unlearn.harness import SECOND_SHUFFLE, SHUFFLE, endless, num_batches, rng, shuffled, trainer_for


@register("NG", "NegGrad+", defaults={"unlearn_epochs": 5, "unlearn_lr": 0.01, "alpha": 0.99},
          checks={"alpha": Range(0, 1)}, forget_weight=lambda cfg: 1 - cfg.alpha, opengan="ascent",
          summary="descend on retain and ascend on forget in each step (NegGrad+)")
def neggrad_plus(model, data: UnlearnData, cfg):
    """An epoch is one pass over retain; each retain batch is paired with the next forget batch
    and the loss is alpha*CE_r - (1-alpha)*CE_f on two forward passes. Forget batches come from
    an endless stream that reshuffles whenever the forget set is used up, so later cycles are
    fresh draws, not a replay of the first (as RUM's itertools.cycle did)."""
    h = trainer_for(model, data, cfg, "NG", num_batches(data.retain, cfg.batch_size))
    forget = endless(data.forget, cfg, rng(cfg, SECOND_SHUFFLE))
    gen = rng(cfg, SHUFFLE)
    a = cfg.alpha
    for _ in h.epochs():
        model.train()
        for xr, yr in shuffled(data.retain, cfg, gen):
            xf, yf = next(forget)
            with h.autocast():
                loss = a * F.cross_entropy(model(xr), yr) - (1 - a) * F.cross_entropy(model(xf), yf)
            h.step(loss)
        h.check_finite()
    return model
