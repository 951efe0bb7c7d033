"""`GA` (NegGrad): gradient ascent on the forget set."""
import torch.nn.functional as F

from unlearn import UnlearnData, register
from unlearn.harness import SHUFFLE, num_batches, rng, shuffled, trainer_for


@register("GA", "NegGrad", "neggrad", defaults={"unlearn_epochs": 5, "unlearn_lr": 1e-4}, uses={"forget"},
          opengan="ascent",
          summary="gradient ascent on the forget set (NegGrad)")
def gradient_ascent(model, data: UnlearnData, cfg):
    """Minimise -CE on forget batches; honours a --mask_path mask."""
    h = trainer_for(model, data, cfg, "GA", num_batches(data.forget, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)
    for _ in h.epochs():
        model.train()
        for x, y in shuffled(data.forget, cfg, gen):
            with h.autocast():
                loss = -F.cross_entropy(model(x), y)
            h.step(loss)
        h.check_finite()
    return model
