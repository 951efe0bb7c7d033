"""`SCRUB` (Kurmanji et al. 2023): alternate max passes on the forget set (move away from the
teacher) with min passes on the retain set (stay close to it and keep the labels)."""
import torch
import torch.nn.functional as F

from unlearn import Range, UnlearnData, register
from unlearn.harness import SECOND_SHUFFLE, SHUFFLE, frozen, kd_loss, num_batches, rng, shuffled, trainer_for


def max_pass(student, teacher, h, batches, T):
    """Minimise -KD_T(student, teacher) over the forget batches."""
    for x, _ in batches:
        with torch.no_grad(), h.autocast():
            target = teacher(x)
        with h.autocast():
            loss = -kd_loss(student(x), target, T)
        h.step(loss)


def min_pass(student, teacher, h, batches, T, beta, gamma):
    """Minimise gamma*CE + beta*KD_T(student, teacher) over the retain batches."""
    for x, y in batches:
        with torch.no_grad(), h.autocast():
            target = teacher(x)
        with h.autocast():
            logits = student(x)
            loss = gamma * F.cross_entropy(logits, y) + beta * kd_loss(logits, target, T)
        h.step(loss)


@register("SCRUB", defaults={"unlearn_epochs": 5, "unlearn_lr": 5e-3, "msteps": 4, "kd_T": 4.0,
                            "beta": 0.001, "gamma": 0.99},
          checks={"msteps": Range(0, integer=True), "kd_T": Range(0, low_open=True), "beta": Range(0),
                  "gamma": Range(0)},
          uses={"forget", "retain", "original"}, opengan="scrub",
          summary="alternate moving away from the original on forget and staying close on retain")
def scrub(model, data: UnlearnData, cfg):
    """Epochs 0..msteps-1 run a max pass then a min pass; later epochs only a min pass, so exactly
    min(msteps, epochs) max passes (RUM tested epoch <= msteps counting from 0: msteps+1). One
    optimizer over the student only; the teacher is `data.original`, frozen in eval mode. --beta
    weighs the KL term, --gamma the CE term (RUM's roles)."""
    teacher = frozen(data.original)
    steps = num_batches(data.retain, cfg.batch_size) + num_batches(data.forget, cfg.batch_size)
    h = trainer_for(model, data, cfg, "SCRUB", steps)
    retain_gen, forget_gen = rng(cfg, SHUFFLE), rng(cfg, SECOND_SHUFFLE)
    for epoch in h.epochs():
        model.train()
        if epoch < cfg.msteps:
            max_pass(model, teacher, h, shuffled(data.forget, cfg, forget_gen), cfg.kd_T)
        min_pass(model, teacher, h, shuffled(data.retain, cfg, retain_gen), cfg.kd_T, cfg.beta, cfg.gamma)
        h.check_finite()
    return model
