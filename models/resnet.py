"""ResNet-18/50 (He et al. 2016) with the CIFAR stem: a 3x3 stride-1 conv and no max-pool, so
32x32 (and 8x8) inputs are not downsampled before the first stage."""
from torch import nn

from .base import Classifier, init_conv_bn
from .registry import register

WIDTHS = (64, 128, 256, 512)


def downsample(in_ch, out_ch, stride):
    """1x1 conv + BN on the shortcut when the residual branch changes shape; else identity."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_ch, width, stride):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()
        self.shortcut = downsample(in_ch, out_ch, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: the stride sits on the 3x3 conv, not the first 1x1."""
    expansion = 4

    def __init__(self, in_ch, width, stride):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()
        self.shortcut = downsample(in_ch, out_ch, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


def make_stage(block, in_ch, width, blocks, stride):
    """One stage: the first block may downsample, the rest keep the shape."""
    layers = []
    for i in range(blocks):
        layers.append(block(in_ch, width, stride if i == 0 else 1))
        in_ch = width * block.expansion
    return nn.Sequential(*layers)


class ResNet(Classifier):
    def __init__(self, block, depths, num_classes, in_shape):
        super().__init__(in_shape[0], WIDTHS[-1] * block.expansion)
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], WIDTHS[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(WIDTHS[0]), nn.ReLU())
        stages, in_ch = [], WIDTHS[0]
        for i, (width, blocks) in enumerate(zip(WIDTHS, depths)):
            stages.append(make_stage(block, in_ch, width, blocks, stride=1 if i == 0 else 2))
            in_ch = width * block.expansion
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.feature_dim, num_classes)  # PyTorch's default init, as torchvision
        init_conv_bn(self)

    def embed(self, x):
        return self.pool(self.stages(self.stem(x))).flatten(1)


@register("resnet18")
def resnet18(num_classes, in_shape):
    """ResNet-18 with the CIFAR stem (RUM's model for CIFAR-10/100, SVHN, TinyImageNet)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_shape)


@register("resnet50")
def resnet50(num_classes, in_shape):
    """ResNet-50 with the CIFAR stem."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_shape)
