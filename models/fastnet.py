"""A fast CIFAR network in the style of Keller Jordan's airbench ("94% on CIFAR-10 in 3.29 s"),
written from its published description:

- a first conv with a 2x2 kernel and no padding whose filters can be set by *patch whitening*
  (`whiten_init`): the eigenvectors of the covariance of 2x2 input patches, scaled by
  1/sqrt(eigenvalue), used with both signs (so 2*C*2*2 output channels), and frozen-free;
- three blocks conv3x3 -> max-pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU, widths 64/256/256;
- a global max pool and a bias-free linear head whose logits are scaled down (airbench: 1/9),
  folded into `features` here so `fc` stays a plain Linear.

Pools that would shrink a map below 1x1 are skipped, so 1x8x8 digits work too.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .base import Classifier
from .registry import register

WIDTHS = (64, 256, 256)
LOGIT_SCALE = 1 / 9


def conv_block(in_ch, out_ch, pool):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                         nn.MaxPool2d(2) if pool else nn.Identity(),
                         nn.BatchNorm2d(out_ch), nn.GELU(),
                         nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_ch), nn.GELU())


class FastNet(Classifier):
    def __init__(self, num_classes, in_shape, widths=WIDTHS, kernel=2):
        super().__init__(in_shape[0], widths[-1])
        c, h, w = in_shape
        self.kernel = min(kernel, h, w)
        self.whiten = nn.Conv2d(c, 2 * c * self.kernel ** 2, self.kernel, padding=0, bias=True)
        size = min(h, w) - self.kernel + 1
        blocks, prev = [], self.whiten.out_channels
        for width in widths:
            pool = size >= 2
            size = size // 2 if pool else size
            blocks.append(conv_block(prev, width, pool))
            prev = width
        self.body = nn.Sequential(*blocks)
        self.fc = nn.Linear(self.feature_dim, num_classes, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m is not self.whiten:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def embed(self, x):
        x = F.gelu(self.whiten(x))
        x = self.body(x)
        return F.adaptive_max_pool2d(x, 1).flatten(1) * LOGIT_SCALE


@torch.no_grad()
def whiten_init(model, x_sample, eps=5e-4):
    """Set the first conv of `model` to whiten the k x k patches of `x_sample` (images in [0, 1],
    [N, C, H, W]; a few thousand suffice): each filter is an eigenvector v of the patch covariance
    divided by sqrt(lambda + eps), used as +v and -v, and the bias centres the patches, so the
    first half of the layer's outputs has (up to eps) identity covariance on the sample.
    Returns the model. A model without a `whiten` conv is returned unchanged."""
    conv = getattr(model, "whiten", None)
    if conv is None:
        return model
    w = conv.weight
    z = model.normalize(x_sample.to(w.device, torch.float32))
    k = conv.kernel_size[0]
    patches = F.unfold(z, k).transpose(1, 2).reshape(-1, z.shape[1] * k * k).double()  # [N*L, C*k*k]
    mean = patches.mean(0)
    centred = patches - mean
    cov = centred.T @ centred / max(1, len(patches) - 1)
    eigval, eigvec = torch.linalg.eigh(cov)
    filters = (eigvec.T / torch.sqrt(eigval.clamp_min(0) + eps)[:, None]).flip(0)  # largest first
    filters = torch.cat([filters, -filters])  # [2*C*k*k, C*k*k]
    w.copy_(filters.reshape(w.shape).to(w.dtype))
    if conv.bias is not None:
        conv.bias.copy_((-(filters @ mean)).to(w.dtype))
    return model


@register("fastnet")
def fastnet(num_classes, in_shape):
    """An airbench-style fast CIFAR network (use with --recipe fast)."""
    return FastNet(num_classes, in_shape)
