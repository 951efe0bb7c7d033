"""`--augment_forget simple`: jittered copies of forget images, labels kept."""
import torch

from datasets.base import TensorSet, to_float
from engine.seed import generator
from unlearn.ssl.views import jitter_view

SIMPLE_DRAWS = 401  # generator offset


def as_tensor_set(images, labels, like):
    """New examples in the storage format of `like` (uint8 sets get rounded pixels). Their
    original indices are negative (-1, -2, ...): they exist in no data set, and never collide."""
    stored = like.subset(torch.arange(min(1, len(like)))).x  # dtype and device of the set's images
    images = images.clamp(0, 1)
    if stored.dtype == torch.uint8:
        images = (images * 255).round().to(torch.uint8)
    else:
        images = images.to(stored.dtype)
    idx = -torch.arange(1, len(labels) + 1, dtype=torch.long)
    return TensorSet(images.to(stored.device), labels.to(like.y.device), idx, like.augment)


def simple_augment(forget, count, seed, flip=False, batch_size=512):
    """`count` new images: image i is a jittered copy of forget example i mod |F| (the capstone
    used a wrong wrap-around index) with its label."""
    gen = generator(seed, SIMPLE_DRAWS)
    src = torch.arange(count) % len(forget)
    out = []
    for start in range(0, count, batch_size):
        out.append(jitter_view(to_float(forget.subset(src[start:start + batch_size]).x), gen, flip))
    return as_tensor_set(torch.cat(out), forget.y[src.to(forget.y.device)], forget)
