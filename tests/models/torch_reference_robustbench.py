"""RobustBench's CIFAR architectures re-written in PyTorch, for where RobustBench is not installed.

RobustBench 1.1.1 pins ``timm==1.0.9``, which conflicts with the test extra, so pip cannot install it
from ``pyproject.toml``; it installs with ``pip install --no-deps robustbench==1.1.1``, and then
``helpers.robustbench_architecture`` loads the real files and this module is not used. Without it,
this module stands in with the same constructors, state-dict names and forward passes as
``RobustBench/robustbench@78fcc9e:robustbench/model_zoo/architectures/`` (identical in the 1.1.1 wheel):

- ``resnet.py``: ``PreActBlock`` (``out_shortcut``), ``PreActBlockV2``, ``PreActResNet`` (``bn_before_fc``,
  ``out_shortcut``), ``PreActResNet18``;
- ``wide_resnet.py``: ``WideResNet`` (TRADES layout; ``sub_block1`` and ``bias_last`` as upstream,
  dropout omitted: it is off at inference);
- ``dm_wide_resnet.py``: ``DMWideResNet``, ``Swish``.

``test_upstream.py::test_rewritten_robustbench_reference_equals_upstream`` checks, wherever RobustBench
is installed, that these give upstream's state dicts and logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)

# --- resnet.py ---------------------------------------------------------------------------------------


def _projection(in_planes: int, planes: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_planes == planes:
        return None
    return nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False))


class PreActBlock(nn.Module):
    """bn-relu-conv-bn-relu-conv; a projection shortcut reads x, or relu(bn1(x)) with ``out_shortcut``."""

    expansion = 1

    def __init__(self, in_planes, planes, stride=1, out_shortcut=False):
        super().__init__()
        self.out_shortcut = out_shortcut
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        projection = _projection(in_planes, planes, stride)
        if projection is not None:
            self.shortcut = projection

    def _shortcut_input(self, x, activated):
        return activated if self.out_shortcut else x

    def forward(self, x):
        activated = F.relu(self.bn1(x))
        shortcut = self.shortcut(self._shortcut_input(x, activated)) if hasattr(self, "shortcut") else x
        return self.conv2(F.relu(self.bn2(self.conv1(activated)))) + shortcut


class PreActBlockV2(PreActBlock):
    """As ``PreActBlock``, but a projection shortcut always reads relu(bn1(x)) (``out_shortcut`` ignored)."""

    def _shortcut_input(self, x, activated):
        return activated


class PreActResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10, bn_before_fc=False, out_shortcut=False):
        super().__init__()
        self.in_planes = 64
        self.bn_before_fc = bn_before_fc
        self.out_shortcut = out_shortcut
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        for index, (planes, stride) in enumerate(zip((64, 128, 256, 512), (1, 2, 2, 2), strict=True)):
            setattr(self, f"layer{index + 1}", self._make_layer(block, planes, num_blocks[index], stride))
        if bn_before_fc:
            self.bn = nn.BatchNorm2d(512 * block.expansion)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for block_stride in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, block_stride, out_shortcut=self.out_shortcut))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        if self.bn_before_fc:
            out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def PreActResNet18():
    return PreActResNet(PreActBlock, [2, 2, 2, 2])


# --- wide_resnet.py ----------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Pre-activation block; when the width changes both branches read relu(bn1(x)) and the shortcut is
    ``convShortcut``, otherwise the identity carries x."""

    def __init__(self, in_planes, out_planes, stride, dropRate=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.equalInOut = in_planes == out_planes
        self.convShortcut = (
            None
            if self.equalInOut
            else nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False)
        )

    def forward(self, x):
        activated = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(activated))))
        return (x if self.equalInOut else self.convShortcut(activated)) + out


class NetworkBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, out_planes, block, stride, dropRate=0.0):
        super().__init__()
        self.layer = nn.Sequential(
            *[
                block(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1, dropRate)
                for i in range(int(nb_layers))
            ]
        )

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(
        self, depth=28, num_classes=10, widen_factor=10, sub_block1=False, dropRate=0.0, bias_last=True
    ):
        super().__init__()
        channels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        assert (depth - 4) % 6 == 0
        n = (depth - 4) / 6
        self.conv1 = nn.Conv2d(3, channels[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, channels[0], channels[1], BasicBlock, 1, dropRate)
        if sub_block1:
            self.sub_block1 = NetworkBlock(n, channels[0], channels[1], BasicBlock, 1, dropRate)
        self.block2 = NetworkBlock(n, channels[1], channels[2], BasicBlock, 2, dropRate)
        self.block3 = NetworkBlock(n, channels[2], channels[3], BasicBlock, 2, dropRate)
        self.bn1 = nn.BatchNorm2d(channels[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(channels[3], num_classes, bias=bias_last)
        self.nChannels = channels[3]

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.avg_pool2d(self.relu(self.bn1(out)), 8)
        return self.fc(out.view(-1, self.nChannels))


# --- dm_wide_resnet.py -------------------------------------------------------------------------------


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class _Block(nn.Module):
    """Like ``BasicBlock`` with TF-style SAME padding of the strided conv (pad right/bottom by one)."""

    def __init__(self, in_planes, out_planes, stride, activation_fn=nn.ReLU):
        super().__init__()
        self.batchnorm_0 = nn.BatchNorm2d(in_planes, momentum=0.01)
        self.relu_0 = activation_fn()
        self.conv_0 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=0, bias=False)
        self.batchnorm_1 = nn.BatchNorm2d(out_planes, momentum=0.01)
        self.relu_1 = activation_fn()
        self.conv_1 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.has_shortcut = in_planes != out_planes
        self.shortcut = (
            nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False)
            if self.has_shortcut
            else None
        )
        if stride not in (1, 2):
            raise ValueError("Unsupported `stride`.")
        self._padding = (1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1)

    def forward(self, x):
        activated = self.relu_0(self.batchnorm_0(x))
        out = self.conv_1(self.relu_1(self.batchnorm_1(self.conv_0(F.pad(activated, self._padding)))))
        return (self.shortcut(activated) if self.has_shortcut else x) + out


class _BlockGroup(nn.Module):
    def __init__(self, num_blocks, in_planes, out_planes, stride, activation_fn=nn.ReLU):
        super().__init__()
        self.block = nn.Sequential(
            *[
                _Block(
                    in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1, activation_fn
                )
                for i in range(num_blocks)
            ]
        )

    def forward(self, x):
        return self.block(x)


class DMWideResNet(nn.Module):
    def __init__(
        self,
        num_classes=10,
        depth=28,
        width=10,
        activation_fn=nn.ReLU,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        padding=0,
        num_input_channels=3,
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(num_input_channels, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(num_input_channels, 1, 1), persistent=False)
        self.padding = padding
        channels = [16, 16 * width, 32 * width, 64 * width]
        assert (depth - 4) % 6 == 0
        num_blocks = (depth - 4) // 6
        self.init_conv = nn.Conv2d(
            num_input_channels, channels[0], kernel_size=3, stride=1, padding=1, bias=False
        )
        self.layer = nn.Sequential(
            *[
                _BlockGroup(num_blocks, channels[i], channels[i + 1], stride, activation_fn=activation_fn)
                for i, stride in enumerate((1, 2, 2))
            ]
        )
        self.batchnorm = nn.BatchNorm2d(channels[3], momentum=0.01)
        self.relu = activation_fn()
        self.logits = nn.Linear(channels[3], num_classes)
        self.num_channels = channels[3]

    def forward(self, x):
        if self.padding > 0:
            x = F.pad(x, (self.padding,) * 4)
        out = self.layer(self.init_conv((x - self.mean) / self.std))
        out = F.avg_pool2d(self.relu(self.batchnorm(out)), 8)
        return self.logits(out.view(-1, self.num_channels))
