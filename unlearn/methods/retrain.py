"""`retrain`: the gold standard. A freshly initialised model trained on the retain set only."""
from unlearn import UnlearnData, register
from unlearn.harness import SHUFFLE, ce_epochs, num_batches, rng, shuffled, trainer_for


@register("retrain", defaults={"unlearn_epochs": 30, "unlearn_lr": 0.1}, uses={"retain", "fresh"},
          scratch=True,
          summary="train a new model on the retain set only (the reference)")
def retrain(model, data: UnlearnData, cfg):
    """Cross-entropy on retain from a random init, cosine LR over --unlearn_epochs (RUM used
    T_max = --epochs). `model` is not used, and `data.forget` is withheld (None): the forget set
    must leave no trace. No saliency mask (it belongs to another model)."""
    fresh = data.fresh_model()
    h = trainer_for(fresh, data, cfg, "retrain", num_batches(data.retain, cfg.batch_size),
                    scheduler="cosine", mask=None)
    gen = rng(cfg, SHUFFLE)
    return ce_epochs(fresh, h, lambda epoch: shuffled(data.retain, cfg, gen))
