"""torchvision ShuffleNet-V2 x0.5 / x1.0 / x1.5 / x2.0 in Flax, NHWC, module tree = torch's.

Ma et al. 2018, "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design" (channel
split, a 1x1-depthwise 3x3-1x1 branch, concatenation, channel shuffle; stride-2 units run both branches
on the whole input); reference file ``torchvision 0.28.0 torchvision/models/shufflenetv2.py``.
Submodules are named as torch's state dict with indices joined by ``_`` (``stage2.0.branch1.2`` ->
``stage2_0/branch1_2``, ``conv1.0`` -> ``conv1_0``), so the converter in
``alignjax.weights.keymaps.shufflenet`` only renames and transposes.

Deviations: none. ``channel_shuffle`` permutes the last (NHWC) axis exactly as torchvision's view /
transpose / view permutes NCHW's channel axis.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.layers import pooled_logits
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize


def channel_shuffle(x: jax.Array, groups: int) -> jax.Array:
    """torchvision ``channel_shuffle`` on NHWC: channel ``g * (c // groups) + j`` becomes ``j * groups + g``
    (channels split into ``groups`` blocks, interleaved)."""
    batch, height, width, channels = x.shape
    x = x.reshape(batch, height, width, groups, channels // groups)
    return jnp.swapaxes(x, 3, 4).reshape(batch, height, width, channels)


class InvertedResidual(nn.Module):
    """torchvision ``shufflenetv2.InvertedResidual``: with stride 1 the input's second half goes through
    ``branch2`` (1x1-BN-ReLU, depthwise 3x3-BN, 1x1-BN-ReLU) and its first half is kept; with stride > 1
    ``branch1`` (depthwise 3x3/s-BN, 1x1-BN-ReLU) and ``branch2`` both take the whole input. The two halves
    are concatenated and shuffled in 2 groups. ``in_channels`` is torchvision's ``inp`` (the stage's
    declared width, which a stride-1 unit checks against ``out_channels``)."""

    in_channels: int
    out_channels: int
    stride: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if not 1 <= self.stride <= 3:
            raise ValueError("illegal stride value")
        in_channels = self.in_channels
        branch_features = self.out_channels // 2
        if self.stride == 1 and in_channels != branch_features << 1:
            raise ValueError(
                f"Invalid combination of stride {self.stride}, inp {in_channels} and oup {self.out_channels} "
                "values. If stride == 1 then inp should be equal to oup // 2 << 1."
            )
        norm = functools.partial(batch_norm, train, self.dtype)
        if self.stride > 1:
            left = conv(in_channels, 3, self.stride, 1, self.dtype, "branch1_0", groups=in_channels)(x)
            left = norm("branch1_1")(left)
            left = conv(branch_features, 1, 1, 0, self.dtype, "branch1_2")(left)
            left = nn.relu(norm("branch1_3")(left))
            right = x
        else:
            left, right = jnp.split(x, 2, axis=-1)
        right = conv(branch_features, 1, 1, 0, self.dtype, "branch2_0")(right)
        right = nn.relu(norm("branch2_1")(right))
        depthwise = conv(branch_features, 3, self.stride, 1, self.dtype, "branch2_3", groups=branch_features)
        right = norm("branch2_4")(depthwise(right))
        right = conv(branch_features, 1, 1, 0, self.dtype, "branch2_5")(right)
        right = nn.relu(norm("branch2_6")(right))
        return channel_shuffle(jnp.concatenate([left, right], axis=-1), 2)


class ShuffleNetV2(nn.Module):
    """torchvision ``ShuffleNetV2``: ``conv1`` (3x3/2-BN-ReLU), 3x3/2 max pool, ``stage2``-``stage4`` (a
    stride-2 unit then stride-1 units), ``conv5`` (1x1-BN-ReLU), global average pool, ``fc``.

    Attributes:
      stages_repeats: units per stage (three numbers; (4, 8, 4) for every torchvision variant).
      stages_out_channels: features of conv1, the three stages and conv5 (five numbers).
      num_classes: outputs of ``fc``.
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stages_repeats: Sequence[int] = (4, 8, 4)
    stages_out_channels: Sequence[int] = (24, 116, 232, 464, 1024)
    num_classes: int = 1000
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if len(self.stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(self.stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        norm = functools.partial(batch_norm, train, self.dtype)
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.stages_out_channels[0], 3, 2, 1, self.dtype, "conv1_0")(x)
        x = nn.relu(norm("conv1_1")(x))
        x = max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
        in_channels = self.stages_out_channels[0]
        for stage, (repeats, channels) in enumerate(zip(self.stages_repeats, self.stages_out_channels[1:4])):
            for unit in range(max(repeats, 1)):  # torchvision: one stride-2 unit, then repeats - 1 more
                stride, name = (2 if unit == 0 else 1), f"stage{stage + 2}_{unit}"
                x = InvertedResidual(in_channels, channels, stride, self.dtype, name=name)(x, train)
                in_channels = channels
        x = conv(self.stages_out_channels[-1], 1, 1, 0, self.dtype, "conv5_0")(x)
        x = nn.relu(norm("conv5_1")(x))
        return pooled_logits(x, self.num_classes, self.dtype)


# name -> stages_out_channels, as torchvision's constructors (all with stages_repeats (4, 8, 4))
_CONFIGS: dict[str, tuple[int, ...]] = {
    "shufflenet_v2_x0_5": (24, 48, 96, 192, 1024),
    "shufflenet_v2_x1_0": (24, 116, 232, 464, 1024),
    "shufflenet_v2_x1_5": (24, 176, 352, 704, 1024),
    "shufflenet_v2_x2_0": (24, 244, 488, 976, 2048),
}


def build_shufflenet_v2(
    arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any
) -> ShuffleNetV2:
    """A torchvision ShuffleNet-V2 by name; ``kwargs`` override attributes (``stages_repeats`` ...)."""
    options: dict[str, Any] = {"stages_repeats": (4, 8, 4), "stages_out_channels": _CONFIGS[arch]}
    options.update(kwargs)
    return ShuffleNetV2(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_shufflenet_v2, _arch))
del _arch
