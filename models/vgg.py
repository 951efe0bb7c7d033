"""VGG-16 with batch norm, CIFAR-sized: no final max-pool and a small 2x2-pooled MLP head."""
from torch import nn

from .base import Classifier, conv_bn_relu, init_conv_bn
from .registry import register

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
POOLED = (2, 2)
HIDDEN = 256


def conv_layers(config, in_ch, size):
    """Convs of `config`; a max-pool ("M") is skipped when the map (smallest side `size`) is
    already 1 pixel, so tiny inputs such as 8x8 digits still run."""
    layers = []
    for item in config:
        if item == "M":
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
        else:
            layers.append(conv_bn_relu(in_ch, item))
            in_ch = item
    return nn.Sequential(*layers), in_ch


class VGG(Classifier):
    def __init__(self, config, num_classes, in_shape):
        super().__init__(in_shape[0], HIDDEN)
        self.body, out_ch = conv_layers(config, in_shape[0], min(in_shape[1:]))
        self.pool = nn.AdaptiveAvgPool2d(POOLED)
        self.head = nn.Sequential(nn.Linear(out_ch * POOLED[0] * POOLED[1], HIDDEN), nn.ReLU(),
                                  nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
        self.fc = nn.Linear(HIDDEN, num_classes)
        init_conv_bn(self)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def embed(self, x):
        return self.head(self.pool(self.body(x)).flatten(1))


@register("vgg16_bn")
def vgg16_bn(num_classes, in_shape):
    """VGG-16 with batch norm, CIFAR-sized."""
    return VGG(VGG16, num_classes, in_shape)
