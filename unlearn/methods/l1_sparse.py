"""`l1-sparse` (RUM: `FT_prune`): fine-tuning with a decaying L1 penalty (Jia et al.)."""
from unlearn import Range, UnlearnData, register
from unlearn.harness import SHUFFLE, ce_epochs, num_batches, rng, shuffled, trainer_for


def l1_weight(alpha, epoch, epochs, no_l1_epochs):
    """alpha * (1 - e / (E - E_nol1)) for e < E - E_nol1, then 0 (RUM's linear decay)."""
    active = epochs - no_l1_epochs
    return alpha * (1 - epoch / active) if epoch < active else 0.0


def l1_norm(model):
    """Sum of |w| over every parameter (conv, BN, fc, biases), as RUM does."""
    return sum(p.abs().sum() for p in model.parameters() if p.requires_grad)


def _l1_checks(cfg):
    return {"alpha": Range(0), "no_l1_epochs": Range(0, cfg.unlearn_epochs, integer=True)}


@register("l1-sparse", "FT_prune", "FT_l1", defaults={"unlearn_epochs": 10, "unlearn_lr": 0.01, "alpha": 5e-4,
                                                      "no_l1_epochs": 0},
          checks=_l1_checks, uses={"retain"},
          summary="fine-tune on retain with a decaying L1 penalty")
def l1_sparse(model, data: UnlearnData, cfg):
    """Fine-tuning on retain with an L1 penalty on every weight that decays to 0."""
    h = trainer_for(model, data, cfg, "l1-sparse", num_batches(data.retain, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)

    def penalty(epoch):
        a = l1_weight(cfg.alpha, epoch, cfg.unlearn_epochs, cfg.no_l1_epochs)
        return a * l1_norm(model) if a > 0 else None

    return ce_epochs(model, h, lambda epoch: shuffled(data.retain, cfg, gen), penalty)
