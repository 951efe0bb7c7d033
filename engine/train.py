"""The one training harness every method and the original training share.

It owns the optimizer, the LR schedule and warm-up, the optional gradient mask, the check for a
non-finite loss, the progress bar and the timing. Callers keep their plain loops:

    h = Trainer(model, lr=..., epochs=...)
    for epoch in h.epochs():
        for x, y in data.batches(...):
            with h.autocast():
                loss = F.cross_entropy(model(x), y)
            h.step(loss)
"""
import time

import torch

from . import distributed
from .device import autocast
from .errors import Diverged, UserError
from .progress import progress

SCHEDULERS = ("constant", "cosine", "multistep", "linear")
CHECK_EVERY = 50  # steps between the checks for a non-finite loss (each waits for the device)


def make_scheduler(optimizer, name, epochs, milestones=(), gamma=0.1):
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=0)
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 1.0)
    if name == "linear":  # --recipe fast: linear decay to 0 over the epochs (after the warm-up)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: max(0.0, 1.0 - e / max(1, epochs)))
    raise UserError(f"unknown --scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


class Trainer:
    def __init__(self, model, lr, epochs, momentum=0.9, weight_decay=5e-4, scheduler="constant",
                 milestones=(), gamma=0.1, warmup=0, steps_per_epoch=None, mask=None, params=None,
                 desc="train", device=None, progress=True, optimizer="sgd", regularizer=None,
                 nesterov=False):
        self.model, self.num_epochs, self.desc, self.progress = model, int(epochs), desc, progress
        # optional extra loss term, regularizer(model) -> scalar, added in every step before
        # backward (the capstone's SSL / OpenGAN add-ons, unlearn/ssl/regularizer.py)
        self.regularizer = regularizer
        self.device = device or next(model.parameters()).device
        named = dict(model.named_parameters())
        self.mask = {n: m.to(self.device) for n, m in mask.items() if n in named} if mask else None
        params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
        # With a mask, weight decay is folded into the gradient before masking, so masked weights
        # are truly frozen (no decay, no momentum) - the SalUn intent; see docs/deviations.md.
        self.weight_decay = weight_decay
        opt_wd = 0.0 if self.mask else weight_decay
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=lr, weight_decay=opt_wd)
        else:  # nesterov: --recipe fast (engine/recipe.py)
            self.optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=opt_wd,
                                             nesterov=nesterov)
        self.scheduler = make_scheduler(self.optimizer, scheduler, self.num_epochs, milestones, gamma)
        self.warmup_steps = int(warmup * steps_per_epoch) if warmup and steps_per_epoch else 0
        self.global_step, self.epoch, self.seconds, self.start_epoch = 0, 0, 0.0, 0
        self.last_loss = None
        self._bad = None  # on-device record of the first non-finite loss: (step, epoch, value)
        self.on_epoch_end = []
        self._masked = [(p, self.mask[n]) for n, p in named.items() if self.mask and n in self.mask]

    def autocast(self):
        return autocast(self.device)

    def state_dict(self):
        """What a resumed run needs to continue exactly where this one stopped."""
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "next_epoch": self.epoch + 1, "global_step": self.global_step, "seconds": self.seconds}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.start_epoch, self.global_step = int(state["next_epoch"]), int(state["global_step"])
        self.seconds = float(state["seconds"])

    def epochs(self):
        bar = progress(self.num_epochs - self.start_epoch, self.desc, "epochs", self.progress)
        for epoch in range(self.start_epoch, self.num_epochs):
            self.epoch = epoch
            start = time.perf_counter()
            yield epoch
            self._check_loss()  # every loop gets the end-of-epoch check, and before its state is saved
            self.scheduler.step()
            self.seconds += time.perf_counter() - start
            for callback in self.on_epoch_end:  # after the schedule step: a resume starts clean
                callback(epoch)
            if self.last_loss is not None:
                bar.set_postfix(loss=f"{float(self.last_loss):.4f}")
            bar.update(1)
        bar.close()

    def _apply_warmup(self):
        if self.global_step < self.warmup_steps:
            scale = (self.global_step + 1) / self.warmup_steps
            for group, base in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()):
                group["lr"] = base * scale
        elif self.warmup_steps and self.global_step == self.warmup_steps:
            for group, base in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()):
                group["lr"] = base

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def step(self, loss):
        """Backward + masked SGD step. A NaN/inf loss is recorded on the device (no host sync per
        step, which would stall a GPU) and raises Diverged every CHECK_EVERY steps and at the end of
        each epoch of `epochs()`. Returns the loss (a detached tensor)."""
        if self.regularizer is not None:
            with self.autocast():
                loss = loss + self.regularizer(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        # ---- data parallel (engine/distributed.py): weighted backward + one gradient all-reduce
        if distributed.active():
            value = torch.as_tensor(distributed.backward_and_reduce(loss, self._params(), self.model))
        else:
            value = loss.detach()
            loss.backward()
        # ----
        self._watch(value)
        for p, m in self._masked:
            if p.grad is not None:
                p.grad.add_(p.detach(), alpha=self.weight_decay).mul_(m)
        self._apply_warmup()
        self.optimizer.step()
        self.global_step += 1
        if self.global_step % CHECK_EVERY == 0:
            self._check_loss()
        return value

    def _watch(self, value):
        value = value.float().reshape(())
        if self._bad is None:
            self._bad = (torch.full((), -1, dtype=torch.long, device=value.device),
                         torch.zeros((), dtype=torch.long, device=value.device), torch.zeros((), device=value.device))
        step, epoch, bad_value = self._bad
        first = ~torch.isfinite(value) & (step < 0)
        self._bad = (torch.where(first, self.global_step, step), torch.where(first, self.epoch, epoch),
                     torch.where(first, value, bad_value))
        self.last_loss = value

    def _check_loss(self):
        if self._bad is not None and int(self._bad[0]) >= 0:
            step, epoch, value = (t.item() for t in self._bad)
            raise Diverged(f"{self.desc}: loss became {value} at epoch {epoch}, step {step}")

    def check_finite(self):
        """Raise Diverged if a loss or a weight became NaN/inf (call at the end of each epoch)."""
        self._check_loss()
        check_finite_weights(self.model, self.desc)


def check_finite_weights(model, where="model"):
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise Diverged(f"{where}: weight {name} became NaN/inf")
