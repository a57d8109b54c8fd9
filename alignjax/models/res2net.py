"""Res2Net (timm ``res2net*``) in Flax, NHWC, module tree = the torch state dict's.

Gao et al. 2021, "Res2Net: A New Multi-scale Backbone Architecture" (TPAMI); reference file
``timm 1.0.31 timm/models/res2net.py`` (``Bottle2neck``, built into timm's ``ResNet`` of
``timm/models/resnet.py``: a 7x7/2 stem with max pooling, four stages, global average pooling, ``fc``),
itself adapted from gasvn/Res2Net ``res2net.py``, whose checkpoints timm loads unchanged.

A ``Bottle2neck`` widens its 1x1 conv to ``scale`` groups of ``width = floor(planes * base_width / 64)``
features; group ``i < scale - 1`` goes through its own 3x3 conv, BN and ReLU (``convs_i``, ``bns_i``), fed
with group ``i`` plus the previous group's output (only group ``i`` in a stage's first block, which
also strides); the last group is passed through, or average-pooled (3x3, padding 1, zeros counted, at
the block's stride) in a stage's first block. Names follow torch's with indices joined by ``_``
(``layer1.0.convs.2`` -> ``layer1_0/convs_2``). Deviations: none in the maths; the average pooling is a
sum of strided slices. Cardinality > 1 (Res2NeXt) and the ``d`` stems are not implemented.
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


def avg_pool_3x3(x: jax.Array, stride: int) -> jax.Array:
    """``nn.AvgPool2d(3, stride, padding=1)`` (zero padding counted in the mean) on NHWC input."""
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for axis in (1, 2):
        size = (x.shape[axis] - 3) // stride + 1
        views = [lax.slice_in_dim(x, i, i + stride * (size - 1) + 1, stride, axis=axis) for i in range(3)]
        x = views[0] + views[1] + views[2]
    return x / 9.0


class Bottle2neck(nn.Module):
    """timm ``Bottle2neck`` (cardinality 1): conv1x1-bn-relu, hierarchical 3x3 groups, conv1x1-bn, shortcut."""

    planes: int
    stride: int = 1
    base_width: int = 26
    scale: int = 4
    dtype: Any = jnp.float32
    expansion = 4

    @nn.compact
    def __call__(self, x, train: bool = False):
        width = math.floor(self.planes * (self.base_width / 64.0))
        out_features = self.planes * self.expansion
        has_downsample = self.stride != 1 or x.shape[-1] != out_features
        is_first = self.stride > 1 or has_downsample
        out = conv(width * self.scale, 1, 1, 0, self.dtype, "conv1")(x)
        out = nn.relu(batch_norm(train, self.dtype, "bn1")(out))
        groups = [out[..., i * width:(i + 1) * width] for i in range(self.scale)]
        outputs = []
        branch = groups[0]
        for i in range(max(1, self.scale - 1)):
            branch = groups[i] if i == 0 or is_first else branch + groups[i]
            branch = conv(width, 3, self.stride, 1, self.dtype, f"convs_{i}")(branch)
            branch = nn.relu(batch_norm(train, self.dtype, f"bns_{i}")(branch))
            outputs.append(branch)
        if self.scale > 1:
            outputs.append(avg_pool_3x3(groups[-1], self.stride) if is_first else groups[-1])
        out = jnp.concatenate(outputs, axis=-1)
        out = conv(out_features, 1, 1, 0, self.dtype, "conv3")(out)
        out = batch_norm(train, self.dtype, "bn3")(out)
        if has_downsample:
            x = conv(out_features, 1, self.stride, 0, self.dtype, "downsample_0")(x)
            x = batch_norm(train, self.dtype, "downsample_1")(x)
        return nn.relu(out + x)


class Res2Net(nn.Module):
    """timm ``ResNet`` with ``Bottle2neck`` blocks.

    Attributes:
      stage_sizes: blocks per stage, e.g. (3, 4, 6, 3) for Res2Net-50.
      base_width: ``w`` of the name (26 for ``26w``): features per scale group per 64 planes.
      scale: ``s`` of the name (4 for ``4s``): scale groups per block.
      num_classes: outputs of ``fc``.
      width: stem features and planes of ``layer1`` (64 upstream; doubled at each later stage).
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int]
    base_width: int = 26
    scale: int = 4
    num_classes: int = 1000
    width: int = 64
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.width, 7, 2, 3, self.dtype, "conv1")(x)
        x = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        x = max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
        for stage, num_blocks in enumerate(self.stage_sizes):
            for index in range(num_blocks):
                x = Bottle2neck(
                    planes=self.width * 2**stage,
                    stride=2 if stage > 0 and index == 0 else 1,
                    base_width=self.base_width,
                    scale=self.scale,
                    dtype=self.dtype,
                    name=f"layer{stage + 1}_{index}",
                )(x, train)
        return pooled_logits(x, self.num_classes, self.dtype)


# name -> (stage sizes, base_width, scale), as timm's entry points
_CONFIGS: dict[str, tuple[tuple[int, ...], int, int]] = {
    "res2net50_26w_4s": ((3, 4, 6, 3), 26, 4),
    "res2net50_14w_8s": ((3, 4, 6, 3), 14, 8),
    "res2net50_26w_6s": ((3, 4, 6, 3), 26, 6),
    "res2net50_26w_8s": ((3, 4, 6, 3), 26, 8),
    "res2net50_48w_2s": ((3, 4, 6, 3), 48, 2),
    "res2net101_26w_4s": ((3, 4, 23, 3), 26, 4),
}


def build_res2net(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> Res2Net:
    """A timm Res2Net by name; ``kwargs`` override attributes (``width``, ``stage_sizes`` ...)."""
    stage_sizes, base_width, scale = _CONFIGS[arch]
    options: dict[str, Any] = {"stage_sizes": stage_sizes, "base_width": base_width, "scale": scale}
    options.update(kwargs)
    return Res2Net(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_res2net, _arch))
del _arch
