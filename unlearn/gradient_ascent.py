"""`GA` (NegGrad): gradient ascent on the forget set."""
import torch.nn.functional as F

from engine.train import check_finite_weights
from . import UnlearnData, register
from .harness import SHUFFLE, num_batches, rng, shuffled, trainer_for


@register("GA", "NegGrad", "neggrad")
def gradient_ascent(model, data: UnlearnData, cfg):
    """Minimise -CE on forget batches (rum-spec §6.4); honours cfg.mask."""
    h = trainer_for(model, cfg, "GA", num_batches(data.forget, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)
    for _ in h.epochs():
        model.train()
        for x, y in shuffled(data.forget, cfg, gen):
            with h.autocast():
                loss = -F.cross_entropy(model(x), y)
            h.step(loss)
        check_finite_weights(model, h.desc)
    return model
