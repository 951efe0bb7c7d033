"""Small models for 8x8 digits and synthetic images, sized to train in seconds on a CPU."""
import math

from torch import nn

from .base import Classifier, conv_bn_relu, init_conv_bn
from .registry import register


class SmallCNN(Classifier):
    def __init__(self, num_classes, in_shape):
        super().__init__(in_shape[0], 128)
        # one 2x pool halves the cost of the widest conv; below 8 px it would leave too little map
        pool = nn.MaxPool2d(2) if min(in_shape[1:]) >= 8 else nn.Identity()
        self.body = nn.Sequential(conv_bn_relu(in_shape[0], 32), conv_bn_relu(32, 64), pool,
                                  conv_bn_relu(64, self.feature_dim), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(self.feature_dim, num_classes)
        init_conv_bn(self)

    def embed(self, x):
        return self.body(x).flatten(1)


class MLP(Classifier):
    def __init__(self, num_classes, in_shape, hidden=256):
        super().__init__(in_shape[0], hidden)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, num_classes)

    def embed(self, x):
        return self.body(x)


@register("cnn")
def cnn(num_classes, in_shape):
    """Three 3x3 conv-BN-ReLU layers, a max-pool and global average pooling: the default for 8x8 images."""
    return SmallCNN(num_classes, in_shape)


@register("mlp")
def mlp(num_classes, in_shape):
    """Two 256-wide hidden layers."""
    return MLP(num_classes, in_shape)


@register("tinymlp")
def tinymlp(num_classes, in_shape):
    """A 64-wide MLP: many of them train fast side by side (the memorization estimator)."""
    # the "many small MLPs" of the heldout-estimator prototype: a step costs so little compute
    # that one model at a time is bound by per-step overhead, which the batched path amortises
    return MLP(num_classes, in_shape, hidden=64)
