"""`bad-teaching` (Chundawat et al. 2023): distil from a competent teacher on retain examples and
from an incompetent (randomly initialised) teacher on forget examples, as the capstone did."""
import torch

from unlearn import Range, UnlearnData, register
from unlearn.harness import SHUFFLE, concat, distill_kl, frozen, num_batches, rng, shuffled, trainer_for


def teacher_logits(x, is_forget, competent, incompetent):
    """Per example, the incompetent teacher's logits for forget rows and the competent one's for
    retain rows; the distillation target is their softmax(./T)."""
    with torch.no_grad():
        return torch.where(is_forget[:, None], incompetent(x), competent(x))


@register("bad-teaching", "bad_teaching", defaults={"unlearn_epochs": 2, "unlearn_lr": 0.005, "kd_T": 1.0},
          checks={"kd_T": Range(0, low_open=True)}, uses={"forget", "retain", "original", "fresh"},
          opengan="bad-teaching",
          summary="distil from the original on retain and from a random teacher on forget")
def bad_teaching(model, data: UnlearnData, cfg):
    """One shuffled pass per epoch over forget U retain (the whole retain set, as the capstone);
    loss KL(target || softmax(student/T)) averaged over the batch, no T^2 factor, T = --kd_T.
    One optimizer for the whole run (the capstone rebuilt it every epoch)."""
    competent = frozen(data.original)
    incompetent = frozen(data.fresh_model())
    flags = torch.cat([torch.ones(len(data.forget), dtype=torch.long),
                       torch.zeros(len(data.retain), dtype=torch.long)])
    # the labels of the union carry the forget flag: the loss never uses class labels
    union = concat(data.forget, data.retain)
    union = union.with_labels(flags.to(union.y.device))
    h = trainer_for(model, data, cfg, "bad-teaching", num_batches(union, cfg.batch_size))
    gen = rng(cfg, SHUFFLE)
    T = cfg.kd_T
    for _ in h.epochs():
        model.train()
        for x, is_forget in shuffled(union, cfg, gen):
            with h.autocast():
                target = teacher_logits(x, is_forget.bool(), competent, incompetent)
                loss = distill_kl(model(x), target, T)
            h.step(loss)
        h.check_finite()
    return model
