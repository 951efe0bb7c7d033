"""Per-example learning events recorded during training: the raw material of the
learning-event memorization proxies, recorded with one scatter per batch (no per-example loop).

For every training example and epoch: the true-class softmax confidence, the max confidence, the
negative entropy (with 0·log 0 = 0, so never NaN) and correctness, taken from the pre-update
logits of the training forward pass. Stored keyed by original index; proxies average over epochs.
"""
import numpy as np
import torch

from . import distributed
from .io import write_npz


class LearningEvents:
    def __init__(self, original_idx, epochs, device):
        original_idx = torch.as_tensor(original_idx, dtype=torch.long)
        self.index = original_idx
        self.lookup = torch.full((int(original_idx.max()) + 1 if len(original_idx) else 0,), -1,
                                 dtype=torch.long, device=device)
        self.lookup[original_idx.to(device)] = torch.arange(len(original_idx), device=device)
        shape = (epochs, len(original_idx))
        self.arrays = {k: torch.full(shape, float("nan"), device=device)
                       for k in ("confidence", "max_conf", "neg_entropy", "correct")}

    @torch.no_grad()
    def record(self, epoch, idx, logits, y):
        pos = self.lookup[idx.to(self.lookup.device)]
        p = torch.softmax(logits.detach().float(), dim=1)
        self.arrays["confidence"][epoch, pos] = p.gather(1, y[:, None]).squeeze(1)
        self.arrays["max_conf"][epoch, pos] = p.max(1).values
        self.arrays["neg_entropy"][epoch, pos] = torch.special.xlogy(p, p).sum(1)
        self.arrays["correct"][epoch, pos] = (p.argmax(1) == y).float()

    def state(self):
        # data parallel: merged over the ranks (a collective), so a resumed run keeps every shard's examples
        return dict(distributed.merge_recorded(self.arrays))

    def load(self, state):
        for k in self.arrays:
            self.arrays[k].copy_(state[k])

    def save(self, path):
        # data parallel: each rank recorded the examples of its shards (a collective: every rank calls save)
        arrays = distributed.merge_recorded(self.arrays)
        out = {k: v.cpu().numpy().astype(np.float32) for k, v in arrays.items()}
        return write_npz(path, index=self.index.numpy(), **out)
