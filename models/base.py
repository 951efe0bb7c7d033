"""Pieces shared by every architecture: input normalisation, the classifier skeleton, init."""
import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std per channel. Kept as buffers so a checkpoint carries its own constants
    and a loaded model needs no data set to preprocess inputs given in [0, 1]."""

    def __init__(self, mean, std):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if mean.shape != std.shape:
            raise ValueError(f"mean has {mean.shape[1]} channels but std has {std.shape[1]}")
        if bool((std <= 0).any()):
            raise ValueError(f"std must be positive, got {std.flatten().tolist()}")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    @classmethod
    def identity(cls, channels):
        return cls([0.0] * channels, [1.0] * channels)

    @property
    def channels(self):
        return self.mean.shape[1]

    def forward(self, x):
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    """Skeleton every model follows: normalize -> embed -> fc.

    Subclasses build their layers after calling this constructor (so `normalize` comes first in
    the state_dict), define `embed(x) -> [B, feature_dim]` on normalised input, and set `self.fc`.
    Later code relies on `features` (penultimate embedding) and `fc` (the linear head) separately.
    """

    def __init__(self, in_channels, feature_dim):
        super().__init__()
        # build_model replaces this with the data set's constants
        self.normalize = Normalize.identity(in_channels)
        self.feature_dim = feature_dim

    def embed(self, x):
        raise NotImplementedError

    def features(self, x):
        return self.embed(self.normalize(x))

    def forward(self, x):
        return self.fc(self.features(x))


def conv_bn_relu(in_ch, out_ch):
    """3x3 same-padding conv without bias (BN supplies the shift), then BN and ReLU.
    ReLUs are out-of-place throughout so torch.func transforms see plain functional graphs."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU())


def init_conv_bn(model):
    """He init for convs (fan_out, as torchvision does), BN as the identity map."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
