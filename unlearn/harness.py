"""What the unlearning methods share, so no method carries its own copy of a loop piece:
the Trainer built from the unlearning flags, the distillation losses, random relabelling,
endlessly reshuffled batches, set unions, frozen teachers and plain cross-entropy passes.

Randomness comes only from `engine.seed.generator(cfg.seed, offset)`; the offsets below keep the
streams of one run apart (a method's shuffles do not shift when another stream draws more).
"""
import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.seed import generator
from engine.train import Trainer

# generator offsets (workflows.train.fit uses 1)
SHUFFLE = 101        # the main pass of a method (retain, union, forget for GA)
SECOND_SHUFFLE = 102  # a second, independent stream (NG's forget draws, SCRUB's forget pass)
LABELS = 103         # random labels of RL / SalUn

FROM_DATA = object()


def trainer_for(model, data, cfg, desc, steps_per_epoch, scheduler="constant", mask=FROM_DATA):
    """The one Trainer of a method, from --unlearn_lr/--unlearn_epochs/--momentum/--weight_decay/
    --warmup, with the run's weight mask and add-on regularizer (`data.mask`, `data.regularizer`).
    The warm-up ramps to the *unlearning* LR (RUM ramps to --lr; docs/deviations.md)."""
    return Trainer(model, lr=cfg.unlearn_lr, epochs=cfg.unlearn_epochs, momentum=cfg.momentum,
                   weight_decay=cfg.weight_decay, scheduler=scheduler, warmup=cfg.warmup,
                   steps_per_epoch=steps_per_epoch, mask=data.mask if mask is FROM_DATA else mask,
                   desc=desc, regularizer=data.regularizer)


def num_batches(tset, batch_size):
    return -(-len(tset) // batch_size)


def rng(cfg, offset):
    return generator(cfg.seed, offset)


def shuffled(tset, cfg, gen, **kw):
    """One shuffled, augmented (as the set's augmentation says) pass over a set."""
    return tset.batches(cfg.batch_size, shuffle=True, augment=True, generator=gen, **kw)


def endless(tset, cfg, gen):
    """Batches forever; every time the set is exhausted it is reshuffled and re-augmented with
    fresh draws (itertools.cycle, which RUM's NG used, replays the cached first pass: the same
    augmented batches in the same order)."""
    if len(tset) == 0:
        raise UserError("the forget set is empty")
    while True:
        yield from shuffled(tset, cfg, gen)


def random_other_labels(y, num_classes, gen):
    """A label drawn uniformly from the classes other than y, independently per example."""
    if num_classes < 2:
        raise UserError("random relabelling needs at least 2 classes")
    shift = torch.randint(1, num_classes, tuple(y.shape), generator=gen).to(y.device)
    return (y + shift) % num_classes


def concat(a, b):
    """The union of two sets (a's examples first), original indices kept."""
    return a.join(b)  # no copy of the images when a and b are views of the same set


def distill_kl(student_logits, teacher_logits, T=1.0):
    """KL(softmax(teacher/T) || softmax(student/T)), summed over classes, averaged over the batch."""
    return F.kl_div(F.log_softmax(student_logits.float() / T, 1),
                    F.log_softmax(teacher_logits.float() / T, 1),
                    reduction="batchmean", log_target=True)


def kd_loss(student_logits, teacher_logits, T):
    """Hinton's distillation loss T^2 * KL, as SCRUB uses it."""
    return T * T * distill_kl(student_logits, teacher_logits, T)


def frozen(model):
    """A teacher: eval mode, no gradients (it never enters an optimizer)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def ce_epochs(model, h, batches_of_epoch, penalty=None):
    """Plain cross-entropy training: for each epoch of `h`, one pass over `batches_of_epoch(epoch)`,
    adding `penalty(epoch)` (a scalar tensor or None) to every batch loss."""
    for epoch in h.epochs():
        model.train()
        for x, y in batches_of_epoch(epoch):
            with h.autocast():
                loss = F.cross_entropy(model(x), y)
            extra = penalty(epoch) if penalty is not None else None
            h.step(loss if extra is None else loss + extra)
        h.check_finite()
    return model
