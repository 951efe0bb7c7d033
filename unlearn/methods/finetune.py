"""`FT`: fine-tuning on the retain set (catastrophic forgetting of the forget set)."""
from unlearn import UnlearnData, register
from unlearn.harness import SHUFFLE, ce_epochs, num_batches, rng, shuffled, trainer_for


@register("FT", defaults={"unlearn_epochs": 10, "unlearn_lr": 0.01}, uses={"retain"},
          summary="fine-tune on the retain set")
def fine_tune(model, data: UnlearnData, cfg):
    """Cross-entropy on retain at a constant LR."""
    h = trainer_for(model, data, cfg, "FT", num_batches(data.retain, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)
    return ce_epochs(model, h, lambda epoch: shuffled(data.retain, cfg, gen))
