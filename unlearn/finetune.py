"""`FT`: fine-tuning on the retain set (catastrophic forgetting of the forget set)."""
from . import UnlearnData, register
from .harness import SHUFFLE, ce_epochs, num_batches, rng, shuffled, trainer_for


@register("FT")
def fine_tune(model, data: UnlearnData, cfg):
    """Cross-entropy on retain at a constant LR (rum-spec §6.2)."""
    h = trainer_for(model, cfg, "FT", num_batches(data.retain, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)
    return ce_epochs(model, h, lambda epoch: shuffled(data.retain, cfg, gen))
