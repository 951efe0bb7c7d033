"""`RL` (RUM: `RL_og`; with a mask it is RUM's `RL`): random-label unlearning."""
import torch

from unlearn import UnlearnData, register
from unlearn.harness import LABELS, SHUFFLE, FROM_DATA, ce_epochs, concat, num_batches, random_other_labels, rng, \
    shuffled, trainer_for


def train_with_random_labels(model, data: UnlearnData, cfg, desc, mask=FROM_DATA):
    """Each epoch: fresh random labels for every forget example, drawn uniformly from the classes
    other than its true one, on every data set (RUM relabelled only on CIFAR-10, where a draw could
    be the true label; elsewhere its RL was plain fine-tuning), then one shuffled CE pass over
    forget(random labels) U retain. A mask freezes the weights outside it."""
    union = concat(data.forget, data.retain)
    true_forget = data.forget.y
    h = trainer_for(model, data, cfg, desc, num_batches(union, cfg.batch_size), mask=mask)
    label_gen, gen = rng(cfg, LABELS), rng(cfg, SHUFFLE)

    def epoch_batches(epoch):
        fake = random_other_labels(true_forget, data.num_classes, label_gen)
        return shuffled(union.with_labels(torch.cat([fake, data.retain.y])), cfg, gen)

    return ce_epochs(model, h, epoch_batches)


@register("RL", "RL_og", "random-label", defaults={"unlearn_epochs": 10, "unlearn_lr": 0.1}, opengan="random-label",
          summary="random labels on forget, true ones on retain")
def random_label(model, data: UnlearnData, cfg):
    """Random labels on forget, true labels on retain, every weight trainable (or a --mask_path)."""
    return train_with_random_labels(model, data, cfg, "RL")
