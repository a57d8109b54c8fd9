"""torchvision ResNet-18/34/50/101/152, Wide ResNet-50-2 and ResNeXt in Flax, NHWC, module tree = torch's.

He et al. 2016, "Deep Residual Learning for Image Recognition"; Xie et al. 2017, "Aggregated Residual
Transformations for Deep Neural Networks" (ResNeXt: the bottleneck's 3x3 conv in ``groups`` groups of
``width_per_group * planes / 64`` features each); reference file
``pytorch/vision@v0.20.0:torchvision/models/resnet.py`` (ResNet v1.5: the stride of a bottleneck sits
on its 3x3 conv). Submodule names follow the torch state dict with indices joined by ``_``
(``layer1.0.downsample.1`` -> ``layer1_0/downsample_1``), so the converter in
``alignjax.weights.keymaps.torchvision_cnn`` only renames and transposes.

ResNeXt-101 32x16d / 32x32d / 32x48d are the WSL models of Mahajan et al. 2018, "Exploring the Limits
of Weakly Supervised Pretraining" (facebookresearch/WSL-Images): torchvision's ``ResNet(Bottleneck,
[3, 4, 23, 3], groups=32, width_per_group=16 | 32 | 48)``.

Deviations: none in the maths. Dilation is not implemented. ``stem=False`` gives
the back end only (``layer1`` ... ``fc``, no normalisation), used by VOneResNet-50, whose VOne block
and bottleneck conv replace the stem.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.layers import Conv, pooled_logits
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(x: jnp.ndarray, mean: Sequence[float] | None, std: Sequence[float] | None) -> jnp.ndarray:
    """``(x - mean) / std`` per channel (last axis), in float32; identity when ``mean`` and ``std`` are None."""
    x = jnp.asarray(x, jnp.float32)
    if mean is not None:
        x = x - jnp.asarray(mean, jnp.float32).reshape(1, 1, 1, -1)
    if std is not None:
        x = x / jnp.asarray(std, jnp.float32).reshape(1, 1, 1, -1)
    return x


def batch_norm(
    train: bool, dtype: Any, name: str, torch_momentum: float = 0.1
) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """``torch.nn.BatchNorm2d`` (eps 1e-5) as a Flax ``BatchNorm`` named ``name``; torch momentum m is
    Flax momentum 1 - m.

    The normalisation runs in float32 whatever the compute ``dtype`` (the usual mixed-precision choice;
    Flax's BatchNorm would also mix its float32 statistics with a bfloat16 input, which strict dtype
    promotion rejects), and its output is cast back to ``dtype``.
    """
    module = nn.BatchNorm(
        use_running_average=not train,
        momentum=1.0 - torch_momentum,
        epsilon=1e-5,
        dtype=jnp.float32,
        name=name,
    )
    return lambda x: module(x.astype(jnp.float32)).astype(dtype)


def conv(
    features: int, kernel: int, stride: int, padding: int, dtype: Any, name: str, bias: bool = False, groups: int = 1
):
    """``torch.nn.Conv2d`` with symmetric explicit padding (and ``groups``), as a Flax ``Conv``."""
    return Conv(
        features,
        (kernel, kernel),
        strides=(stride, stride),
        padding=((padding, padding), (padding, padding)),
        feature_group_count=groups,
        use_bias=bias,
        dtype=dtype,
        name=name,
    )


class BasicBlock(nn.Module):
    """torchvision ``BasicBlock``: conv3x3-bn-relu-conv3x3-bn, plus identity or ``downsample``."""

    planes: int
    stride: int = 1
    width_per_group: int = 64  # unused, as groups; kept so both block types share one signature
    groups: int = 1
    dtype: Any = jnp.float32
    expansion = 1

    @nn.compact
    def __call__(self, x, train: bool = False):
        out = conv(self.planes, 3, self.stride, 1, self.dtype, "conv1")(x)
        out = nn.relu(batch_norm(train, self.dtype, "bn1")(out))
        out = conv(self.planes, 3, 1, 1, self.dtype, "conv2")(out)
        out = batch_norm(train, self.dtype, "bn2")(out)
        if self.stride != 1 or x.shape[-1] != self.planes * self.expansion:
            x = conv(self.planes * self.expansion, 1, self.stride, 0, self.dtype, "downsample_0")(x)
            x = batch_norm(train, self.dtype, "downsample_1")(x)
        return nn.relu(out + x)


class Bottleneck(nn.Module):
    """torchvision ``Bottleneck`` (v1.5): conv1x1-bn-relu-conv3x3(stride, groups)-bn-relu-conv1x1-bn, plus
    shortcut; inner width ``int(planes * width_per_group / 64) * groups``."""

    planes: int
    stride: int = 1
    width_per_group: int = 64
    groups: int = 1
    dtype: Any = jnp.float32
    expansion = 4

    @nn.compact
    def __call__(self, x, train: bool = False):
        width = int(self.planes * (self.width_per_group / 64.0)) * self.groups
        out = conv(width, 1, 1, 0, self.dtype, "conv1")(x)
        out = nn.relu(batch_norm(train, self.dtype, "bn1")(out))
        out = conv(width, 3, self.stride, 1, self.dtype, "conv2", groups=self.groups)(out)
        out = nn.relu(batch_norm(train, self.dtype, "bn2")(out))
        out = conv(self.planes * self.expansion, 1, 1, 0, self.dtype, "conv3")(out)
        out = batch_norm(train, self.dtype, "bn3")(out)
        if self.stride != 1 or x.shape[-1] != self.planes * self.expansion:
            x = conv(self.planes * self.expansion, 1, self.stride, 0, self.dtype, "downsample_0")(x)
            x = batch_norm(train, self.dtype, "downsample_1")(x)
        return nn.relu(out + x)


class ResNet(nn.Module):
    """torchvision ``ResNet``.

    Attributes:
      stage_sizes: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
      bottleneck: Bottleneck blocks (ResNet-50 and deeper) instead of BasicBlocks.
      num_classes: outputs of ``fc``.
      width: planes of ``layer1`` (64 in torchvision; doubled at each later stage). Tests use small ones.
      width_per_group: bottleneck inner width per group, per 64 planes (64; 128 for Wide ResNet-50-2, 4
        for ResNeXt-50 32x4d).
      groups: groups of the bottleneck's 3x3 conv (1; 32 or 64 for ResNeXt).
      stem: with False, the module is the back end only: it takes a feature map (b, h, w, c), applies
        ``layer1`` ... ``layer4``, global pooling and ``fc``, and no normalisation.
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int]
    bottleneck: bool = False
    num_classes: int = 1000
    width: int = 64
    width_per_group: int = 64
    groups: int = 1
    stem: bool = True
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if self.stem:
            x = normalize(x, self.mean, self.std).astype(self.dtype)
            x = conv(self.width, 7, 2, 3, self.dtype, "conv1")(x)
            x = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
            x = max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
        else:
            x = jnp.asarray(x).astype(self.dtype)
        block_cls = Bottleneck if self.bottleneck else BasicBlock
        for stage, num_blocks in enumerate(self.stage_sizes):
            for index in range(num_blocks):
                x = block_cls(
                    planes=self.width * 2**stage,
                    stride=2 if stage > 0 and index == 0 else 1,
                    width_per_group=self.width_per_group,
                    groups=self.groups,
                    dtype=self.dtype,
                    name=f"layer{stage + 1}_{index}",
                )(x, train)
        return pooled_logits(x, self.num_classes, self.dtype)


# name -> (stage sizes, bottleneck, width_per_group, groups)
_CONFIGS: dict[str, tuple[tuple[int, ...], bool, int, int]] = {
    "resnet18": ((2, 2, 2, 2), False, 64, 1),
    "resnet34": ((3, 4, 6, 3), False, 64, 1),
    "resnet50": ((3, 4, 6, 3), True, 64, 1),
    "resnet101": ((3, 4, 23, 3), True, 64, 1),
    "resnet152": ((3, 8, 36, 3), True, 64, 1),
    "wide_resnet50_2": ((3, 4, 6, 3), True, 128, 1),
    "resnext50_32x4d": ((3, 4, 6, 3), True, 4, 32),
    "resnext101_32x8d": ((3, 4, 23, 3), True, 8, 32),
    "resnext101_64x4d": ((3, 4, 23, 3), True, 4, 64),
    # the WSL models (facebookresearch/WSL-Images)
    "resnext101_32x16d": ((3, 4, 23, 3), True, 16, 32),
    "resnext101_32x32d": ((3, 4, 23, 3), True, 32, 32),
    "resnext101_32x48d": ((3, 4, 23, 3), True, 48, 32),
}


def build_resnet(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> ResNet:
    """A torchvision ResNet by name; ``kwargs`` override attributes (``width``, ``stem``, ``mean`` ...)."""
    stage_sizes, bottleneck, width_per_group, groups = _CONFIGS[arch]
    options: dict[str, Any] = {
        "stage_sizes": stage_sizes, "bottleneck": bottleneck, "width_per_group": width_per_group, "groups": groups,
    }
    options.update(kwargs)
    return ResNet(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_resnet, _arch))
del _arch
