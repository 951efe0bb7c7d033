"""`retrain`: the gold standard. A freshly initialised model trained on the retain set only."""
from . import UnlearnData, register
from .harness import SHUFFLE, ce_epochs, num_batches, rng, shuffled, trainer_for


@register("retrain")
def retrain(model, data: UnlearnData, cfg):
    """Cross-entropy on retain from a random init, cosine LR over --unlearn_epochs (RUM used
    T_max = --epochs, rum-spec S11). `model` is not used: the forget set must leave no trace,
    and nothing here ever touches `data.forget`. No saliency mask (it belongs to another model)."""
    fresh = data.fresh_model()
    h = trainer_for(fresh, cfg, "retrain", num_batches(data.retain, cfg.batch_size),
                    scheduler="cosine", mask=None)
    gen = rng(cfg, SHUFFLE)
    return ce_epochs(fresh, h, lambda epoch: shuffled(data.retain, cfg, gen))
