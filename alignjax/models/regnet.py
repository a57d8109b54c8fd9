"""torchvision RegNetX / RegNetY (400MF ... 32GF) in Flax, NHWC, module tree = torch's.

Radosavovic et al. 2020, "Designing Network Design Spaces": a stem (3x3/2 conv, 32 features), then
stages (four in every torchvision model) of residual bottleneck blocks whose widths follow a quantised
linear rule (``block_params``), the bottleneck's 3x3 conv in groups of ``group_width`` features, and for
RegNetY a squeeze-and-excitation after it (reduction 0.25 of the block's *input* width). Reference
file ``torchvision 0.28.0 torchvision/models/regnet.py`` (``BlockParams``, ``ResBottleneckBlock``,
``BottleneckTransform``, ``AnyStage``, ``RegNet``), with ``torchvision/ops/misc.py``
``SqueezeExcitation`` and ``torchvision/models/_utils.py`` ``_make_divisible``. Submodules are named
as torch's state dict with indices joined by ``_`` (``trunk_output.block1.block1-0.f.a.0`` ->
``trunk_output/block1/block1-0/f/a_0``), so the converter in ``alignjax.weights.keymaps.regnet``
only renames and transposes.

``block_params`` is ``BlockParams.from_init_params`` in NumPy. torch computes the block widths in
float32 (``torch.arange(depth) * w_a + w_0``, ``torch.log``, ``torch.pow``); every step here is float32
too, with ``log`` and ``pow`` correctly rounded (float64, then rounded to float32). torch's vectorised
float32 ``log``/``pow`` are within 1 ulp of that but not always equal, so the two can disagree only
where the exact value is a rounding tie (a capacity of exactly k + 1/2, e.g. ``w_m = 2.25`` and a width
of exactly 1.5 ``w_0``); torch's own answer there may depend on the CPU's vector instructions. Every
torchvision configuration gives the same stages (tested).

Deviations: none in eval mode. RegNet-Y-128GF (SWAG weights only) is not registered.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from alignjax.models.layers import pooled_logits
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize

_QUANT = 8  # block widths are multiples of this
_STRIDE = 2  # every stage halves the resolution in its first block


@dataclasses.dataclass(frozen=True)
class BlockParams:
    """Per-stage settings, as torchvision's ``BlockParams`` (tuples, so that a module can hold it).

    Attributes:
      depths: blocks per stage.
      widths: output features per stage.
      group_widths: features per group of each stage's 3x3 conv.
      bottleneck_multipliers: bottleneck width / output width per stage (1.0 in every RegNet).
      strides: stride of each stage's first block.
      se_ratio: squeeze features / block input features; None: no squeeze-and-excitation (RegNetX).
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    group_widths: tuple[int, ...]
    bottleneck_multipliers: tuple[float, ...]
    strides: tuple[int, ...]
    se_ratio: float | None = None


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision ``_make_divisible``: ``value`` rounded to a multiple of ``divisor``, at least
    ``min_value`` (default ``divisor``) and not more than 10 % below ``value``."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def block_widths(depth: int, w_0: int, w_a: float, w_m: float) -> list[int]:
    """The quantised linear widths of all ``depth`` blocks: ``u_j = w_0 + w_a * j``, capacity
    ``s_j = round(log(u_j / w_0) / log(w_m))``, width ``round(w_0 * w_m**s_j / 8) * 8`` (paper eq. 2-4),
    in float32 as torch computes it (see the module docstring)."""
    f32 = np.float32
    widths_cont = np.arange(depth).astype(f32) * f32(w_a) + f32(w_0)
    log_ratio = np.log((widths_cont / f32(w_0)).astype(np.float64)).astype(f32)
    capacity = np.round(log_ratio / f32(math.log(w_m)))
    power = np.power(np.float64(f32(w_m)), capacity.astype(np.float64)).astype(f32)
    widths = np.round(f32(w_0) * power / f32(_QUANT)) * f32(_QUANT)
    return [int(w) for w in widths]


def block_params(
    depth: int,
    w_0: int,
    w_a: float,
    w_m: float,
    group_width: int,
    bottleneck_multiplier: float = 1.0,
    se_ratio: float | None = None,
) -> BlockParams:
    """torchvision ``BlockParams.from_init_params``: stages are the runs of equal block widths, then
    stage and group widths are made compatible (``_adjust_widths_groups_compatibilty``).

    Args:
      depth: total number of blocks.
      w_0: initial width (a positive multiple of 8).
      w_a: width slope (>= 0).
      w_m: width multiplier between stages (> 1).
      group_width: features per group of the 3x3 convs.
      bottleneck_multiplier: bottleneck width / block width.
      se_ratio: squeeze-and-excitation ratio (RegNetY: 0.25), or None.
    """
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
        raise ValueError("Invalid RegNet settings")
    # the widths never decrease, so torch's split points are the starts of the runs of equal widths
    runs = [(width, len(list(run))) for width, run in itertools.groupby(block_widths(depth, w_0, w_a, w_m))]
    stage_widths = [width for width, _ in runs]
    num_stages = len(runs)
    multipliers = [bottleneck_multiplier] * num_stages
    bottleneck_widths = [int(w * b) for w, b in zip(stage_widths, multipliers, strict=True)]
    group_widths = [min(group_width, w_bot) for w_bot in bottleneck_widths]
    bottleneck_widths = [make_divisible(w, g) for w, g in zip(bottleneck_widths, group_widths, strict=True)]
    return BlockParams(
        depths=tuple(count for _, count in runs),
        widths=tuple(int(w / b) for w, b in zip(bottleneck_widths, multipliers, strict=True)),
        group_widths=tuple(group_widths),
        bottleneck_multipliers=tuple(multipliers),
        strides=(_STRIDE,) * num_stages,
        se_ratio=se_ratio,
    )


class SqueezeExcitation(nn.Module):
    """torchvision ``SqueezeExcitation``: global average, 1x1 conv ``fc1`` (with bias), ReLU, 1x1 conv
    ``fc2``, sigmoid, times the input."""

    squeeze_channels: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        scale = jnp.mean(x, axis=(1, 2), keepdims=True)
        scale = nn.relu(conv(self.squeeze_channels, 1, 1, 0, self.dtype, "fc1", bias=True)(scale))
        scale = nn.sigmoid(conv(x.shape[-1], 1, 1, 0, self.dtype, "fc2", bias=True)(scale))
        return scale * x


class BottleneckTransform(nn.Module):
    """torchvision ``BottleneckTransform``: conv1x1-bn-relu (``a``), grouped conv3x3 (stride)-bn-relu
    (``b``), squeeze-and-excitation (``se``, RegNetY), conv1x1-bn (``c``)."""

    width_out: int
    stride: int
    group_width: int
    bottleneck_multiplier: float
    se_ratio: float | None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        width_in = x.shape[-1]
        w_b = round(self.width_out * self.bottleneck_multiplier)
        groups = w_b // self.group_width
        x = conv(w_b, 1, 1, 0, self.dtype, "a_0")(x)
        x = nn.relu(batch_norm(train, self.dtype, "a_1")(x))
        x = conv(w_b, 3, self.stride, 1, self.dtype, "b_0", groups=groups)(x)
        x = nn.relu(batch_norm(train, self.dtype, "b_1")(x))
        if self.se_ratio:  # reduction relative to the block's input width, as in torchvision
            x = SqueezeExcitation(round(self.se_ratio * width_in), self.dtype, name="se")(x)
        x = conv(self.width_out, 1, 1, 0, self.dtype, "c_0")(x)
        return batch_norm(train, self.dtype, "c_1")(x)


class ResBottleneckBlock(nn.Module):
    """torchvision ``ResBottleneckBlock``: ReLU of ``f(x)`` plus ``x``, or plus the projection
    conv1x1 (stride)-bn ``proj`` where the width or resolution changes."""

    width_out: int
    stride: int
    group_width: int
    bottleneck_multiplier: float
    se_ratio: float | None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        out = BottleneckTransform(
            self.width_out, self.stride, self.group_width, self.bottleneck_multiplier, self.se_ratio,
            self.dtype, name="f",
        )(x, train)
        if x.shape[-1] != self.width_out or self.stride != 1:
            x = conv(self.width_out, 1, self.stride, 0, self.dtype, "proj_0")(x)
            x = batch_norm(train, self.dtype, "proj_1")(x)
        return nn.relu(x + out)


class AnyStage(nn.Module):
    """torchvision ``AnyStage`` number ``stage``: ``depth`` blocks ``block{stage}-{index}`` of one width;
    only the first has the stride (and, where the width changes, the projection)."""

    stage: int
    width_out: int
    stride: int
    depth: int
    group_width: int
    bottleneck_multiplier: float
    se_ratio: float | None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        for index in range(self.depth):
            x = ResBottleneckBlock(
                self.width_out, self.stride if index == 0 else 1, self.group_width,
                self.bottleneck_multiplier, self.se_ratio, self.dtype, name=f"block{self.stage}-{index}",
            )(x, train)
        return x


class TrunkOutput(nn.Module):
    """torchvision ``RegNet.trunk_output``: the stages ``block1``, ``block2`` ... of ``block_params``."""

    block_params: BlockParams
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        params = self.block_params
        stages = zip(
            params.widths, params.strides, params.depths, params.group_widths, params.bottleneck_multipliers,
            strict=True,
        )
        for stage, (width, stride, depth, group_width, multiplier) in enumerate(stages, start=1):
            x = AnyStage(
                stage, width, stride, depth, group_width, multiplier, params.se_ratio, self.dtype,
                name=f"block{stage}",
            )(x, train)
        return x


class RegNet(nn.Module):
    """torchvision ``RegNet``: stem (3x3/2 conv ``stem_0``, bn ``stem_1``, ReLU), ``trunk_output``,
    global average pool, ``fc``.

    Attributes:
      block_params: the per-stage settings (``block_params(...)``).
      stem_width: features of the stem conv (32).
      num_classes: outputs of ``fc``.
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    block_params: BlockParams
    stem_width: int = 32
    num_classes: int = 1000
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.stem_width, 3, 2, 1, self.dtype, "stem_0")(x)
        x = nn.relu(batch_norm(train, self.dtype, "stem_1")(x))
        x = TrunkOutput(self.block_params, self.dtype, name="trunk_output")(x, train)
        return pooled_logits(x, self.num_classes, self.dtype)


# name -> (depth, w_0, w_a, w_m, group_width, se_ratio), as torchvision's constructors
_CONFIGS: dict[str, tuple[int, int, float, float, int, float | None]] = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None),
}
REGNETS = tuple(_CONFIGS)

_DESIGN = ("depth", "w_0", "w_a", "w_m", "group_width", "se_ratio")


def build_regnet(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> RegNet:
    """A torchvision RegNet by name; ``kwargs`` override its design (``depth``, ``w_0``, ``w_a``, ``w_m``,
    ``group_width``, ``se_ratio``, ``bottleneck_multiplier``) or the module's attributes (``stem_width``)."""
    design = dict(zip(_DESIGN, _CONFIGS[arch], strict=True))
    design.update({key: kwargs.pop(key) for key in (*_DESIGN, "bottleneck_multiplier") if key in kwargs})
    return RegNet(block_params(**design), num_classes=num_classes, dtype=dtype, **kwargs)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_regnet, _arch))
del _arch
