"""BiT: ResNet-V2 with weight-standardised convolutions and GroupNorm (timm ``resnetv2_*_bit``) in Flax.

Kolesnikov et al. 2020, "Big Transfer (BiT): General Visual Representation Learning" (ECCV); He et al.
2016, "Identity Mappings in Deep Residual Networks" (pre-activation). Reference file ``timm 1.0.31
timm/models/resnetv2.py`` (``ResNetV2`` as ``_create_resnetv2_bit`` builds it: ``stem_type='fixed'``,
``StdConv2d(eps=1e-8)``, ``GroupNormAct(num_groups=32)``, ``PreActBottleneck``), which ports
google-research/big_transfer; ``timm/layers/std_conv.py`` (``StdConv2d``).

- ``StdConv``: each output filter standardised to zero mean and unit (biased) variance over its
  ``kh * kw * c_in`` weights, ``(w - mean) / sqrt(var + eps)``, then an ordinary convolution with
  symmetric padding ``((stride - 1) + (k - 1)) // 2``.
- stem: StdConv 7x7/2, zero padding of 1 ("fixed", BiT's SAME approximation), max pool 3x3/2 unpadded.
- ``PreActBottleneck``: ``p = relu(norm1(x))``; shortcut ``downsample.conv(p)`` (1x1 StdConv at the
  stage's stride, first block of each stage) or ``x``; ``conv3(relu(norm3(conv2(relu(norm2(conv1(p)))))))``
  with the stride on ``conv2``, plus the shortcut.
- head: ``relu(norm(x))``, global average pooling, ``head.fc`` (timm's 1x1 conv with bias, held as the
  equivalent ``Dense``: the converters reshape its (n, c, 1, 1) or (1, 1, c, n) kernel to (c, n)).

Widths are timm's ``make_divisible(c * width_factor)`` (multiples of 8). Module names follow the torch
state dict with indices joined by ``_`` (``stages.1.blocks.0.downsample.conv`` ->
``stages_1/blocks_0/downsample/conv``); the kernels are the raw (unstandardised) weights, as stored.
Deviations: none in the maths. Other ResNet-V2 variants (``d`` stems, BatchNorm, non-pre-activation)
are not implemented.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

from alignjax.models.fast_conv import fast_conv_general_dilated
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import normalize

INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


def make_divisible(value: float, divisor: int = 8) -> int:
    """timm's ``make_divisible``: the nearest multiple of ``divisor`` (half up), raised by one ``divisor``
    where rounding lost more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class StdConv(nn.Module):
    """timm ``StdConv2d`` (no bias): a weight-standardised convolution; ``kernel`` (kh, kw, c_in, out) is
    stored raw and standardised per output filter, in float32, at every call."""

    features: int
    kernel_size: int
    stride: int = 1
    eps: float = 1e-8
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features), jnp.float32)
        mean = jnp.mean(kernel, axis=(0, 1, 2), keepdims=True)
        var = jnp.var(kernel, axis=(0, 1, 2), keepdims=True)
        weight = ((kernel - mean) * lax.rsqrt(var + self.eps)).astype(self.dtype)
        pad = ((self.stride - 1) + (k - 1)) // 2
        return fast_conv_general_dilated(
            x.astype(self.dtype), weight, (self.stride, self.stride), ((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )


class Projection(nn.Module):
    """A module holding one ``StdConv`` named ``conv`` (timm's ``stem`` and ``DownsampleConv``)."""

    features: int
    kernel_size: int
    stride: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        return StdConv(self.features, self.kernel_size, self.stride, dtype=self.dtype, name="conv")(x)


class Head(nn.Module):
    """timm ``ClassifierHead(use_conv=True)`` after pooling: ``fc``, timm's 1x1 conv with bias on the pooled
    features, held as the equivalent ``Dense`` (its kernel (c, num_classes) is the conv's (1, 1, c, n))."""

    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(x)


def group_norm_relu(x, num_groups: int, dtype: Any, name: str, relu: bool = True):
    """timm ``GroupNormAct`` (eps 1e-5, then ReLU), normalised in float32, returned in ``dtype``."""
    norm = nn.GroupNorm(num_groups=num_groups, epsilon=1e-5, use_fast_variance=False, dtype=jnp.float32, name=name)
    out = norm(x.astype(jnp.float32))
    return (nn.relu(out) if relu else out).astype(dtype)


class PreActBottleneck(nn.Module):
    """timm ``PreActBottleneck`` with StdConv and GroupNorm (see the module docstring)."""

    features: int
    stride: int = 1
    downsample: bool = False
    num_groups: int = 32
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        mid = make_divisible(self.features * 0.25)
        preact = group_norm_relu(x, self.num_groups, self.dtype, "norm1")
        shortcut = x
        if self.downsample:
            shortcut = Projection(self.features, 1, self.stride, self.dtype, name="downsample")(preact)
        out = StdConv(mid, 1, dtype=self.dtype, name="conv1")(preact)
        out = group_norm_relu(out, self.num_groups, self.dtype, "norm2")
        out = StdConv(mid, 3, self.stride, dtype=self.dtype, name="conv2")(out)
        out = group_norm_relu(out, self.num_groups, self.dtype, "norm3")
        out = StdConv(self.features, 1, dtype=self.dtype, name="conv3")(out)
        return out + shortcut


class Stage(nn.Module):
    """timm ``ResNetStage``: ``blocks_0`` ... (the first with the stride and the projection shortcut)."""

    features: int
    depth: int
    stride: int
    num_groups: int = 32
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        for index in range(self.depth):
            x = PreActBottleneck(self.features, self.stride if index == 0 else 1, index == 0, self.num_groups,
                                 self.dtype, name=f"blocks_{index}")(x)
        return x


class ResNetV2BiT(nn.Module):
    """timm ``ResNetV2`` as BiT: pre-activation bottlenecks, StdConv, GroupNorm, "fixed" stem.

    Attributes:
      stage_sizes: blocks per stage, e.g. (3, 4, 6, 3) for the 50-layer models.
      width_factor: the ``xN`` of the name; multiplies ``stem_features`` and ``channels``.
      num_classes: outputs of ``head.fc``.
      channels: output features of the stages before ``width_factor`` (256, 512, 1024, 2048).
      stem_features: stem features before ``width_factor`` (64).
      num_groups: GroupNorm groups (32). Tests use fewer with narrow models.
      mean, std: per-channel input normalisation applied to [0, 1] images (BiT's 0.5, 0.5 by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int]
    width_factor: int = 1
    num_classes: int = 1000
    channels: Sequence[int] = (256, 512, 1024, 2048)
    stem_features: int = 64
    num_groups: int = 32
    mean: Sequence[float] | None = INCEPTION_MEAN
    std: Sequence[float] | None = INCEPTION_STD
    dtype: Any = jnp.float32

    # ``train`` is accepted for the common signature: GroupNorm has no batch statistics.
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = Projection(make_divisible(self.stem_features * self.width_factor), 7, 2, self.dtype, name="stem")(x)
        x = max_pool(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), (3, 3), (2, 2))
        for index, (depth, features) in enumerate(zip(self.stage_sizes, self.channels, strict=True)):
            x = Stage(make_divisible(features * self.width_factor), depth, 1 if index == 0 else 2, self.num_groups,
                      self.dtype, name=f"stages_{index}")(x)
        x = group_norm_relu(x, self.num_groups, self.dtype, "norm")
        x = jnp.mean(x, axis=(1, 2))
        return Head(self.num_classes, self.dtype, name="head")(x).astype(jnp.float32)


# name -> (stage sizes, width factor), as timm's entry points
_CONFIGS: dict[str, tuple[tuple[int, ...], int]] = {
    "resnetv2_50x1_bit": ((3, 4, 6, 3), 1),
    "resnetv2_50x3_bit": ((3, 4, 6, 3), 3),
    "resnetv2_101x1_bit": ((3, 4, 23, 3), 1),
    "resnetv2_101x3_bit": ((3, 4, 23, 3), 3),
    "resnetv2_152x2_bit": ((3, 8, 36, 3), 2),
    "resnetv2_152x4_bit": ((3, 8, 36, 3), 4),
}


def build_bit(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> ResNetV2BiT:
    """A timm BiT ResNet-V2 by name; ``kwargs`` override attributes (``channels``, ``num_groups`` ...)."""
    stage_sizes, width_factor = _CONFIGS[arch]
    options: dict[str, Any] = {"stage_sizes": stage_sizes, "width_factor": width_factor}
    options.update(kwargs)
    return ResNetV2BiT(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_bit, _arch))
del _arch
