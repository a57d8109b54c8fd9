"""PyTorch models for the speed benchmarks (random weights; the reference attacks these).

``WideResNet`` uses RobustBench's parameter names and layout (RobustBench
``robustbench/model_zoo/architectures/wide_resnet.py``, the ``Standard`` CIFAR-10 model's
architecture) so that alignjax's converter maps it onto ``wrn_28_10``. ResNet-50 is torchvision's own.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Block(nn.Module):
    """Pre-activation basic block; the shortcut takes the activated input when the width changes."""

    def __init__(self, width_in: int, width_out: int, stride: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(width_in), nn.BatchNorm2d(width_out)
        self.conv1 = nn.Conv2d(width_in, width_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(width_out, width_out, 3, 1, 1, bias=False)
        self.equalInOut = width_in == width_out
        self.convShortcut = None if self.equalInOut else nn.Conv2d(width_in, width_out, 1, stride, 0, bias=False)

    def forward(self, x):
        activated = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(activated))))
        return out + (x if self.equalInOut else self.convShortcut(activated))


class _Stage(nn.Module):
    def __init__(self, n_blocks: int, width_in: int, width_out: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(
            *[_Block(width_in if i == 0 else width_out, width_out, stride if i == 0 else 1) for i in range(n_blocks)]
        )

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-k for 32 px inputs (no input normalisation, as RobustBench's ``Standard``)."""

    def __init__(self, depth: int = 28, widen_factor: int = 10, num_classes: int = 10):
        super().__init__()
        n_blocks, widths = (depth - 4) // 6, (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.block1 = _Stage(n_blocks, widths[0], widths[1], 1)
        self.block2 = _Stage(n_blocks, widths[1], widths[2], 2)
        self.block3 = _Stage(n_blocks, widths[2], widths[3], 2)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.fc = nn.Linear(widths[3], num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.block3(self.block2(self.block1(self.conv1(x))))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


class _Normalized(nn.Module):
    """ImageNet mean/std inside the model, as alignjax's ResNet-50 normalises internally."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.model((x - self.mean) / self.std)


def torchvision_resnet50() -> nn.Module:
    """torchvision's ResNet-50 (random init) with input normalisation; its state dict keeps
    torchvision's names under ``model.``."""
    try:
        import torchvision.models as tvm
    except RuntimeError:  # a CUDA torchvision wheel next to CPU torch: declare its two compiled ops first
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision.models as tvm
    return _Normalized(tvm.resnet50())
