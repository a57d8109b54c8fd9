"""Antialiased ResNets (BlurPool) in Flax, NHWC, module tree = the torch state dict's.

Zhang 2019, "Making Convolutional Networks Shift-Invariant Again" (ICML); reference file
``antialiased-cnns 0.3 antialiased_cnns/resnet.py`` and ``antialiased_cnns/blurpool.py``
(adobe/antialiased-cnns). torchvision's ResNet with every strided operation replaced by a dense one
followed by ``BlurPool`` (reflect padding, a normalised binomial ``filter_size x filter_size`` filter,
stride 2):

- stem (``pool_only=True``, the published models): conv 7x7/2, BN, ReLU, then ``maxpool`` =
  ``Sequential(MaxPool2d(2, stride=1), BlurPool)``;
- bottleneck: the 3x3 conv runs at stride 1; a strided block's ``conv3`` is ``Sequential(BlurPool,
  conv1x1)`` and its shortcut ``Sequential(BlurPool, conv1x1, BN)``.

Submodule names follow torch's with indices joined by ``_`` (``conv3.1`` -> ``conv3_1``,
``downsample.2`` -> ``downsample_2``); BlurPool has no parameters (its ``filt`` buffer is a constant that
the converter drops). Deviations: none in the maths; BlurPool runs as two separable 1-D passes of strided
slices (the filter is an outer product) instead of a depthwise convolution. Basic blocks (ResNet-18/34)
and ``pool_only=False`` are not implemented.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from alignjax.models.layers import pooled_logits
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize


def blur_pool(x: jax.Array, filter_size: int = 4, stride: int = 2) -> jax.Array:
    """``antialiased_cnns.BlurPool`` on NHWC input: reflect padding of ``(filter_size - 1) // 2`` before and
    ``ceil((filter_size - 1) / 2)`` after on both spatial axes, then the normalised binomial filter at
    ``stride``, channel by channel."""
    taps = [math.comb(filter_size - 1, i) / 2.0 ** (filter_size - 1) for i in range(filter_size)]
    low, high = (filter_size - 1) // 2, math.ceil((filter_size - 1) / 2)
    x = jnp.pad(x, ((0, 0), (low, high), (low, high), (0, 0)), mode="reflect")
    for axis in (1, 2):
        size = (x.shape[axis] - filter_size) // stride + 1
        views = [lax.slice_in_dim(x, i, i + stride * (size - 1) + 1, stride, axis=axis) for i in range(filter_size)]
        x = functools.reduce(lambda total, term: total + term, [t * v for t, v in zip(taps, views)])
    return x


class BlurBottleneck(nn.Module):
    """antialiased-cnns ``Bottleneck``: conv1x1-bn-relu-conv3x3(groups)-bn-relu-[BlurPool]-conv1x1-bn,
    plus an identity or ``downsample`` shortcut ([BlurPool]-conv1x1-bn)."""

    planes: int
    stride: int = 1
    width_per_group: int = 64
    groups: int = 1
    filter_size: int = 4
    dtype: Any = jnp.float32
    expansion = 4

    @nn.compact
    def __call__(self, x, train: bool = False):
        width = int(self.planes * (self.width_per_group / 64.0)) * self.groups
        out_features = self.planes * self.expansion
        strided = self.stride != 1
        out = conv(width, 1, 1, 0, self.dtype, "conv1")(x)
        out = nn.relu(batch_norm(train, self.dtype, "bn1")(out))
        out = conv(width, 3, 1, 1, self.dtype, "conv2", groups=self.groups)(out)
        out = nn.relu(batch_norm(train, self.dtype, "bn2")(out))
        if strided:
            out = blur_pool(out, self.filter_size, self.stride)
        out = conv(out_features, 1, 1, 0, self.dtype, "conv3_1" if strided else "conv3")(out)
        out = batch_norm(train, self.dtype, "bn3")(out)
        if strided or x.shape[-1] != out_features:
            first = 1 if strided else 0  # index of the shortcut's conv in torch's Sequential
            shortcut = blur_pool(x, self.filter_size, self.stride) if strided else x
            shortcut = conv(out_features, 1, 1, 0, self.dtype, f"downsample_{first}")(shortcut)
            x = batch_norm(train, self.dtype, f"downsample_{first + 1}")(shortcut)
        return nn.relu(out + x)


class AntialiasedResNet(nn.Module):
    """antialiased-cnns ``ResNet`` with bottleneck blocks and ``pool_only=True``.

    Attributes:
      stage_sizes: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
      num_classes: outputs of ``fc``.
      width: planes of ``layer1`` (64 upstream; doubled at each later stage). Tests use small ones.
      width_per_group, groups: the bottleneck's inner width per group and groups (ResNeXt).
      filter_size: BlurPool filter size (4 for the ``_lpf4_finetune`` weights).
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int]
    num_classes: int = 1000
    width: int = 64
    width_per_group: int = 64
    groups: int = 1
    filter_size: int = 4
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.width, 7, 2, 3, self.dtype, "conv1")(x)
        x = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        x = blur_pool(max_pool(x, (2, 2), (1, 1)), self.filter_size, 2)
        for stage, num_blocks in enumerate(self.stage_sizes):
            for index in range(num_blocks):
                x = BlurBottleneck(
                    planes=self.width * 2**stage,
                    stride=2 if stage > 0 and index == 0 else 1,
                    width_per_group=self.width_per_group,
                    groups=self.groups,
                    filter_size=self.filter_size,
                    dtype=self.dtype,
                    name=f"layer{stage + 1}_{index}",
                )(x, train)
        return pooled_logits(x, self.num_classes, self.dtype)


# name -> (stage sizes, width_per_group, groups), as antialiased_cnns.<name without the prefix>
_CONFIGS: dict[str, tuple[tuple[int, ...], int, int]] = {
    "antialiased_resnet50": ((3, 4, 6, 3), 64, 1),
    "antialiased_resnet152": ((3, 8, 36, 3), 64, 1),
    "antialiased_resnext101_32x8d": ((3, 4, 23, 3), 8, 32),
}


def build_antialiased(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any):
    """An antialiased ResNet by name (filter size 4); ``kwargs`` override attributes."""
    stage_sizes, width_per_group, groups = _CONFIGS[arch]
    options: dict[str, Any] = {"stage_sizes": stage_sizes, "width_per_group": width_per_group, "groups": groups}
    options.update(kwargs)
    return AntialiasedResNet(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_antialiased, _arch))
del _arch
