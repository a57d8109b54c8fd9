"""torchvision MobileNet-V2 and MobileNet-V3 (large, small) in Flax, NHWC, module tree = torch's.

Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (1x1 expansion by
``t``, 3x3 depthwise, linear 1x1 projection, ReLU6, residual where shape allows); Howard et al. 2019,
"Searching for MobileNetV3" (Tables 1 and 2: kernels 3 or 5, squeeze-and-excitation with a hard
sigmoid, hard swish in the later blocks, BatchNorm eps 1e-3). Reference files ``torchvision 0.28.0
torchvision/models/mobilenetv2.py``, ``torchvision/models/mobilenetv3.py``, with
``torchvision/ops/misc.py`` (``Conv2dNormActivation``, ``SqueezeExcitation``) and
``torchvision/models/_utils.py`` (``_make_divisible``). Submodules are named as torch's state dict with
indices joined by ``_`` (``features.2.conv.1.0`` -> ``features_2/conv_1_0``, ``features.4.block.2.fc1``
-> ``features_4/block_2/fc1``, ``classifier.3`` -> ``classifier_3``), so the converter in
``alignjax.weights.keymaps.mobilenet`` only renames and transposes.

A torchvision ``Conv2dNormActivation`` is a ``Sequential`` (conv, BatchNorm, activation): its conv and
norm are named ``<prefix>_0`` and ``<prefix>_1`` in the enclosing module (``conv_norm_activation``).

Deviations: none. Dropout before the classifier (0.2) runs only with ``train=True``, which then needs a
``'dropout'`` rng. ``MobileNetV3`` takes the already width-adjusted block table (``block_config``
applies torchvision's ``InvertedResidualConfig.adjust_channels``); the builders compute it from
``width_mult``, ``reduced_tail`` and ``dilated`` as ``_mobilenet_v3_conf`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.layers import Conv
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, conv, normalize

Activation = Callable[[jax.Array], jax.Array] | None


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible``: ``value`` rounded to the nearest multiple of ``divisor`` (at least
    ``min_value``, default ``divisor``), one ``divisor`` more where rounding lost over 10 %."""
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def hard_swish(x: jax.Array) -> jax.Array:
    """``torch.nn.Hardswish``: ``x * relu6(x + 3) / 6``."""
    return x * jax.nn.relu6(x + 3.0) / 6.0


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """``torch.nn.Hardsigmoid``: ``relu6(x + 3) / 6``."""
    return jax.nn.relu6(x + 3.0) / 6.0


def batch_norm(train: bool, dtype: Any, name: str, *, epsilon: float, torch_momentum: float):
    """``torch.nn.BatchNorm2d(eps=epsilon, momentum=torch_momentum)`` as ``alignjax.models.resnet.batch_norm``
    builds it (float32 normalisation, output cast to ``dtype``); torch momentum m is Flax momentum 1 - m."""
    module = nn.BatchNorm(
        use_running_average=not train, momentum=1.0 - torch_momentum, epsilon=epsilon, dtype=jnp.float32,
        name=name,
    )
    return lambda x: module(x.astype(jnp.float32)).astype(dtype)


# torchvision's norm layers: MobileNetV2 nn.BatchNorm2d's defaults, MobileNetV3 eps 1e-3, momentum 0.01
V2_NORM = {"epsilon": 1e-5, "torch_momentum": 0.1}
V3_NORM = {"epsilon": 1e-3, "torch_momentum": 0.01}


def conv_norm_activation(
    x: jax.Array,
    features: int,
    kernel: int,
    stride: int,
    activation: Activation,
    prefix: str,
    *,
    train: bool,
    dtype: Any,
    norm: dict[str, float],
    groups: int = 1,
    dilation: int = 1,
) -> jax.Array:
    """torchvision ``Conv2dNormActivation``: conv (padding ``(kernel - 1) // 2 * dilation``, no bias) named
    ``<prefix>_0``, BatchNorm ``<prefix>_1``, then ``activation`` (None: none). Call it inside a compact
    method: the two layers belong to the calling module."""
    padding = (kernel - 1) // 2 * dilation
    x = Conv(
        features, (kernel, kernel), strides=(stride, stride),
        padding=((padding, padding), (padding, padding)), kernel_dilation=(dilation, dilation),
        feature_group_count=groups, use_bias=False, dtype=dtype, name=f"{prefix}_0",
    )(x)
    x = batch_norm(train, dtype, f"{prefix}_1", **norm)(x)
    return x if activation is None else activation(x)


class InvertedResidualV2(nn.Module):
    """torchvision ``mobilenetv2.InvertedResidual``: ``conv`` = [1x1 expansion to ``round(in * t)`` (only
    for t != 1)], 3x3 depthwise (``stride``), both BN-ReLU6, then a linear 1x1 projection and BN; the input
    is added when ``stride == 1`` and the channel count is kept."""

    out_channels: int
    stride: int
    expand_ratio: float
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if self.stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {self.stride}")
        in_channels = x.shape[-1]
        hidden = round(in_channels * self.expand_ratio)
        layer = functools.partial(conv_norm_activation, train=train, dtype=self.dtype, norm=V2_NORM)
        y, index = x, 0
        if self.expand_ratio != 1:
            y = layer(y, hidden, 1, 1, jax.nn.relu6, "conv_0")
            index = 1
        y = layer(y, hidden, 3, self.stride, jax.nn.relu6, f"conv_{index}", groups=hidden)
        y = conv(self.out_channels, 1, 1, 0, self.dtype, f"conv_{index + 1}")(y)
        y = batch_norm(train, self.dtype, f"conv_{index + 2}", **V2_NORM)(y)
        return x + y if self.stride == 1 and in_channels == self.out_channels else y


# torchvision MobileNetV2's inverted_residual_setting: (expansion t, channels c, repeats n, first stride s)
V2_SETTING: tuple[tuple[float, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    """torchvision ``MobileNetV2``: ``features`` (3x3/2 stem, inverted residuals, 1x1 to ``last_channel``,
    all BN-ReLU6), global average pool, dropout, ``classifier_1``.

    Attributes:
      num_classes: outputs of the classifier.
      width_mult: multiplies every channel count (rounded by ``make_divisible`` to ``round_nearest``);
        ``last_channel`` is multiplied by ``max(1, width_mult)`` only, as in torchvision.
      inverted_residual_setting: rows (t, c, n, s), as torchvision's.
      round_nearest: channel counts are multiples of it (1 turns rounding off).
      last_channel: features of the last 1x1 conv before width scaling (torchvision's constant 1280).
      dropout: dropout rate before the classifier (with ``train=True`` and a ``'dropout'`` rng).
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    num_classes: int = 1000
    width_mult: float = 1.0
    inverted_residual_setting: Sequence[Sequence[float]] = V2_SETTING
    round_nearest: int = 8
    last_channel: int = 1280
    dropout: float = 0.2
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        setting = self.inverted_residual_setting
        if not setting or len(setting[0]) != 4:
            raise ValueError(f"inverted_residual_setting must be non-empty rows (t, c, n, s), not {setting}")
        layer = functools.partial(conv_norm_activation, train=train, dtype=self.dtype, norm=V2_NORM)
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        stem_channels = make_divisible(32 * self.width_mult, self.round_nearest)
        x = layer(x, stem_channels, 3, 2, jax.nn.relu6, "features_0")
        index = 1
        for expand_ratio, channels, repeats, stride in setting:
            out_channels = make_divisible(channels * self.width_mult, self.round_nearest)
            for repeat in range(int(repeats)):
                block_stride = int(stride) if repeat == 0 else 1
                block = InvertedResidualV2(
                    out_channels, block_stride, expand_ratio, self.dtype, name=f"features_{index}"
                )
                x = block(x, train)
                index += 1
        last_channel = make_divisible(self.last_channel * max(1.0, self.width_mult), self.round_nearest)
        x = layer(x, last_channel, 1, 1, jax.nn.relu6, f"features_{index}")
        x = jnp.mean(x, axis=(1, 2))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier_1")(x)
        return x.astype(jnp.float32)


class BlockConfig(NamedTuple):
    """torchvision ``InvertedResidualConfig`` after width adjustment (Tables 1 and 2 of the paper)."""

    input_channels: int
    kernel: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    use_hardswish: bool
    stride: int
    dilation: int


def block_config(
    input_channels: int, kernel: int, expanded_channels: int, out_channels: int, use_se: bool,
    activation: str, stride: int, dilation: int, width_mult: float = 1.0,
) -> BlockConfig:
    """``InvertedResidualConfig(...)``: channels adjusted to ``make_divisible(c * width_mult, 8)``;
    ``activation`` is ``'HS'`` (hard swish) or ``'RE'`` (ReLU)."""
    def adjust(channels: int) -> int:
        return make_divisible(channels * width_mult, 8)

    return BlockConfig(
        adjust(input_channels), kernel, adjust(expanded_channels), adjust(out_channels), use_se,
        activation == "HS", stride, dilation,
    )


class SqueezeExcitation(nn.Module):
    """torchvision ``ops.SqueezeExcitation`` with MobileNetV3's hard sigmoid: global average pool, 1x1 conv
    ``fc1`` (bias) to ``squeeze_channels``, ReLU, 1x1 conv ``fc2`` back, hard sigmoid, times the input."""

    squeeze_channels: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        scale = jnp.mean(x, axis=(1, 2), keepdims=True)
        scale = nn.relu(conv(self.squeeze_channels, 1, 1, 0, self.dtype, "fc1", bias=True)(scale))
        scale = conv(x.shape[-1], 1, 1, 0, self.dtype, "fc2", bias=True)(scale)
        return hard_sigmoid(scale) * x


class InvertedResidualV3(nn.Module):
    """torchvision ``mobilenetv3.InvertedResidual``: ``block`` = [1x1 expansion (only where the expanded
    width differs from the input's)], depthwise ``kernel`` conv (stride 1 where dilated), [squeeze-and-
    excitation to ``make_divisible(expanded // 4, 8)``], linear 1x1 projection; ReLU or hard swish; the
    input is added when ``stride == 1`` and the channel count is kept."""

    config: BlockConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        if not 1 <= cfg.stride <= 2:
            raise ValueError("illegal stride value")
        activation = hard_swish if cfg.use_hardswish else nn.relu
        layer = functools.partial(conv_norm_activation, train=train, dtype=self.dtype, norm=V3_NORM)
        y, index = x, 0
        if cfg.expanded_channels != cfg.input_channels:
            y = layer(y, cfg.expanded_channels, 1, 1, activation, "block_0")
            index = 1
        stride = 1 if cfg.dilation > 1 else cfg.stride
        y = layer(
            y, cfg.expanded_channels, cfg.kernel, stride, activation, f"block_{index}",
            groups=cfg.expanded_channels, dilation=cfg.dilation,
        )
        index += 1
        if cfg.use_se:
            squeeze = make_divisible(cfg.expanded_channels // 4, 8)
            y = SqueezeExcitation(squeeze, self.dtype, name=f"block_{index}")(y)
            index += 1
        y = layer(y, cfg.out_channels, 1, 1, None, f"block_{index}")
        return y + x if cfg.stride == 1 and cfg.input_channels == cfg.out_channels else y


def mobilenet_v3_config(
    arch: str, width_mult: float = 1.0, reduced_tail: bool = False, dilated: bool = False
) -> tuple[tuple[BlockConfig, ...], int]:
    """torchvision ``_mobilenet_v3_conf``: the block table and ``last_channel`` of ``arch``."""
    divider = 2 if reduced_tail else 1
    dilation = 2 if dilated else 1
    bneck = functools.partial(block_config, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        rows = [
            (16, 3, 16, 16, False, "RE", 1, 1),
            (16, 3, 64, 24, False, "RE", 2, 1),  # C1
            (24, 3, 72, 24, False, "RE", 1, 1),
            (24, 5, 72, 40, True, "RE", 2, 1),  # C2
            (40, 5, 120, 40, True, "RE", 1, 1),
            (40, 5, 120, 40, True, "RE", 1, 1),
            (40, 3, 240, 80, False, "HS", 2, 1),  # C3
            (80, 3, 200, 80, False, "HS", 1, 1),
            (80, 3, 184, 80, False, "HS", 1, 1),
            (80, 3, 184, 80, False, "HS", 1, 1),
            (80, 3, 480, 112, True, "HS", 1, 1),
            (112, 3, 672, 112, True, "HS", 1, 1),
            (112, 5, 672, 160 // divider, True, "HS", 2, dilation),  # C4
            (160 // divider, 5, 960 // divider, 160 // divider, True, "HS", 1, dilation),
            (160 // divider, 5, 960 // divider, 160 // divider, True, "HS", 1, dilation),
        ]
        last_channel = make_divisible(1280 // divider * width_mult, 8)  # C5
    elif arch == "mobilenet_v3_small":
        rows = [
            (16, 3, 16, 16, True, "RE", 2, 1),  # C1
            (16, 3, 72, 24, False, "RE", 2, 1),  # C2
            (24, 3, 88, 24, False, "RE", 1, 1),
            (24, 5, 96, 40, True, "HS", 2, 1),  # C3
            (40, 5, 240, 40, True, "HS", 1, 1),
            (40, 5, 240, 40, True, "HS", 1, 1),
            (40, 5, 120, 48, True, "HS", 1, 1),
            (48, 5, 144, 48, True, "HS", 1, 1),
            (48, 5, 288, 96 // divider, True, "HS", 2, dilation),  # C4
            (96 // divider, 5, 576 // divider, 96 // divider, True, "HS", 1, dilation),
            (96 // divider, 5, 576 // divider, 96 // divider, True, "HS", 1, dilation),
        ]
        last_channel = make_divisible(1024 // divider * width_mult, 8)  # C5
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return tuple(bneck(*row) for row in rows), last_channel


class MobileNetV3(nn.Module):
    """torchvision ``MobileNetV3``: ``features`` (3x3/2 stem BN-hard-swish, the blocks, 1x1 conv to 6x the
    last block's width, BN-hard-swish), global average pool, ``classifier`` (linear to ``last_channel``,
    hard swish, dropout, linear). BatchNorm eps 1e-3, momentum 0.01.

    Attributes:
      inverted_residual_setting: the blocks, width-adjusted (``mobilenet_v3_config``, ``block_config``).
      last_channel: features of the classifier's hidden layer (already width-adjusted, as torchvision's).
      num_classes: outputs of the classifier.
      dropout: dropout rate in the classifier (with ``train=True`` and a ``'dropout'`` rng).
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    inverted_residual_setting: Sequence[BlockConfig] = mobilenet_v3_config("mobilenet_v3_large")[0]
    last_channel: int = 1280
    num_classes: int = 1000
    dropout: float = 0.2
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        if not self.inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        setting = [BlockConfig(*row) for row in self.inverted_residual_setting]
        layer = functools.partial(conv_norm_activation, train=train, dtype=self.dtype, norm=V3_NORM)
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = layer(x, setting[0].input_channels, 3, 2, hard_swish, "features_0")
        for index, cfg in enumerate(setting):
            x = InvertedResidualV3(cfg, self.dtype, name=f"features_{index + 1}")(x, train)
        x = layer(x, 6 * setting[-1].out_channels, 1, 1, hard_swish, f"features_{len(setting) + 1}")
        x = jnp.mean(x, axis=(1, 2))
        x = hard_swish(nn.Dense(self.last_channel, dtype=self.dtype, name="classifier_0")(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier_3")(x)
        return x.astype(jnp.float32)


def build_mobilenet_v2(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> MobileNetV2:
    """torchvision ``mobilenet_v2``; ``kwargs`` override attributes (``width_mult=1.4`` ...)."""
    return MobileNetV2(num_classes=num_classes, dtype=dtype, **kwargs)


def build_mobilenet_v3(
    arch: str,
    num_classes: int = 1000,
    dtype: Any = jnp.float32,
    *,
    width_mult: float = 1.0,
    reduced_tail: bool = False,
    dilated: bool = False,
    **kwargs: Any,
) -> MobileNetV3:
    """torchvision ``mobilenet_v3_large`` / ``mobilenet_v3_small`` with ``_mobilenet_v3_conf``'s options;
    ``kwargs`` override attributes (a width-adjusted ``inverted_residual_setting``, ``last_channel`` ...)."""
    setting, last_channel = mobilenet_v3_config(arch, width_mult, reduced_tail, dilated)
    options: dict[str, Any] = {"inverted_residual_setting": setting, "last_channel": last_channel}
    options.update(kwargs)
    return MobileNetV3(num_classes=num_classes, dtype=dtype, **options)


register_architecture("mobilenet_v2")(build_mobilenet_v2)
for _arch in ("mobilenet_v3_large", "mobilenet_v3_small"):
    register_architecture(_arch)(functools.partial(build_mobilenet_v3, _arch))
del _arch
