"""EfficientNet-B0 ... B7 in Flax, NHWC, module tree = timm's ``tf_efficientnet_b*``.

Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks": the B0
network of MBConv blocks (inverted residuals with depthwise convolutions, squeeze-and-excitation and
SiLU), widened and deepened by a channel and a depth multiplier per variant. Reference file
``timm 1.0.31 timm/models/efficientnet.py`` (``_gen_efficientnet``, ``tf_efficientnet_b0`` ... ``b7``)
with ``_efficientnet_blocks.py`` (``DepthwiseSeparableConv``, ``InvertedResidual``, ``SqueezeExcite``)
and ``_efficientnet_builder.py`` (``decode_arch_def``, ``round_channels``); the ``tf_`` variants are
the ports of the TensorFlow checkpoints: TF "SAME" padding (``layers/padding.py`` ``pad_same``: the
total padding ``max((ceil(n / s) - 1) * s + k - n, 0)`` split with the smaller half first, computed from
the input size, so any input size works) and BatchNorm eps 1e-3. These are the networks of the AdvProp
(Xie et al. 2020, "Adversarial Examples Improve Image Recognition", timm ``.ap_in1k``) and Noisy
Student (``.ns_jft_in1k``) checkpoints; lukemelas' ``efficientnet_pytorch`` 0.7.1 computes the same
function (its files load through the ``'lukemelas_efficientnet'`` layout of
``alignjax.weights.keymaps.efficientnet``). AdvProp checkpoints take inputs normalised as ``x * 2 - 1``:
``mean = std = (0.5, 0.5, 0.5)``.

``tv_efficientnet_b0`` / ``b1`` are torchvision 0.28.0's ``efficientnet_b0`` / ``b1``
(``torchvision/models/efficientnet.py``): the same blocks and widths with symmetric padding
``(k - 1) // 2`` and BatchNorm eps 1e-5; their key map renames torchvision's names onto this tree.

Submodules are named as timm's state dict with indices joined by ``_`` (``blocks.1.0.se.conv_reduce``
-> ``blocks_1_0/se/conv_reduce``), so the timm key map only renames and transposes.

Deviations: none in eval mode. Dropout before the classifier and stochastic depth (drop path) are
identities in eval mode and are not implemented; ``train=True`` only switches BatchNorm to batch
statistics. Only the EfficientNet block types (``ds`` for the first stage, ``ir`` after it) exist.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.layers import Conv, pooled_logits
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, normalize


class Stage(NamedTuple):
    """One line of timm's ``arch_def`` (``'ir_r2_k3_s2_e6_c24_se0.25'``) before scaling.

    ``kind`` is ``'ds'`` (depthwise-separable: no expansion conv) or ``'ir'`` (inverted residual).
    """

    kind: Literal["ds", "ir"]
    repeats: int
    kernel: int
    stride: int
    expand_ratio: float
    features: int
    se_ratio: float


# timm ``_gen_efficientnet``'s arch_def (= lukemelas' ``efficientnet()`` block strings and torchvision's
# ``_efficientnet_conf`` for B0)
EFFICIENTNET_STAGES: tuple[Stage, ...] = (
    Stage("ds", 1, 3, 1, 1.0, 16, 0.25),
    Stage("ir", 2, 3, 2, 6.0, 24, 0.25),
    Stage("ir", 2, 5, 2, 6.0, 40, 0.25),
    Stage("ir", 3, 3, 2, 6.0, 80, 0.25),
    Stage("ir", 3, 5, 1, 6.0, 112, 0.25),
    Stage("ir", 4, 5, 2, 6.0, 192, 0.25),
    Stage("ir", 1, 3, 1, 6.0, 320, 0.25),
)


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm ``layers/helpers.py`` ``make_divisible``: nearest multiple of ``divisor`` (at least ``divisor``),
    one ``divisor`` more where rounding down lost more than ``1 - round_limit`` of ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def round_channels(channels: int, multiplier: float, divisor: int = 8) -> int:
    """timm ``round_channels``: ``channels * multiplier`` made divisible (unchanged for multiplier 0)."""
    return make_divisible(channels * multiplier, divisor) if multiplier else channels


def stage_repeats(stages: Sequence[Stage], depth_multiplier: float | Sequence[float]) -> tuple[int, ...]:
    """Blocks per stage: ``ceil(repeats * multiplier)`` (timm ``_scale_stage_depth`` 'ceil', lukemelas
    ``round_repeats``, torchvision ``adjust_depth``); one multiplier, or one per stage."""
    if isinstance(depth_multiplier, (int, float)):
        multipliers = (depth_multiplier,) * len(stages)
    else:
        multipliers = tuple(depth_multiplier)
    if len(multipliers) != len(stages):
        raise ValueError(f"{len(multipliers)} depth multipliers for {len(stages)} stages")
    return tuple(max(1, math.ceil(stage.repeats * m)) for stage, m in zip(stages, multipliers, strict=True))


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding of one spatial axis (timm ``get_same_padding`` / ``pad_same``): (before, after)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv(
    x: jnp.ndarray, features: int, kernel: int, stride: int, padding: str, dtype: Any, name: str,
    groups: int = 1,
) -> jnp.ndarray:
    """Bias-free ``Conv2dSame`` (``padding='same'``, from ``x``'s size) or ``nn.Conv2d`` with ``(k - 1) // 2``
    on each side (``'symmetric'``), applied to ``x``; must be called inside a compact method."""
    if padding == "same":
        pads = tuple(same_padding(size, kernel, stride) for size in x.shape[1:3])
    elif padding == "symmetric":
        pads = (((kernel - 1) // 2,) * 2,) * 2
    else:
        raise ValueError(f"padding must be 'same' or 'symmetric', not {padding!r}")
    return Conv(
        features, (kernel, kernel), strides=(stride, stride), padding=pads, feature_group_count=groups,
        use_bias=False, dtype=dtype, name=name,
    )(x)


def batch_norm(x: jnp.ndarray, train: bool, epsilon: float, dtype: Any, name: str) -> jnp.ndarray:
    """``nn.BatchNorm2d(eps=epsilon)`` (torch momentum 0.1) in float32, cast back to ``dtype``; must be
    called inside a compact method (cf. ``alignjax.models.resnet.batch_norm``, which fixes eps 1e-5)."""
    module = nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=epsilon, dtype=jnp.float32, name=name
    )
    return module(x.astype(jnp.float32)).astype(dtype)


class SqueezeExcite(nn.Module):
    """timm ``SqueezeExcite``: global mean, 1x1 conv to ``reduced`` features, SiLU, 1x1 conv back, sigmoid
    gate."""

    reduced: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        scale = jnp.mean(x, axis=(1, 2), keepdims=True)
        scale = nn.silu(Conv(self.reduced, (1, 1), dtype=self.dtype, name="conv_reduce")(scale))
        scale = Conv(x.shape[-1], (1, 1), dtype=self.dtype, name="conv_expand")(scale)
        return x * nn.sigmoid(scale)


class DepthwiseSeparable(nn.Module):
    """timm ``DepthwiseSeparableConv`` (the first stage): conv_dw-bn1-SiLU, se, conv_pw-bn2, plus identity
    when the stride is 1 and the width unchanged."""

    features: int
    kernel: int
    stride: int
    se_reduced: int
    padding: str = "same"
    bn_eps: float = 1e-3
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        width = x.shape[-1]
        out = conv(x, width, self.kernel, self.stride, self.padding, self.dtype, "conv_dw", groups=width)
        out = nn.silu(batch_norm(out, train, self.bn_eps, self.dtype, "bn1"))
        out = SqueezeExcite(self.se_reduced, self.dtype, name="se")(out)
        out = conv(out, self.features, 1, 1, self.padding, self.dtype, "conv_pw")
        out = batch_norm(out, train, self.bn_eps, self.dtype, "bn2")
        return out + x if self.stride == 1 and width == self.features else out


class InvertedResidual(nn.Module):
    """timm ``InvertedResidual`` (MBConv): conv_pw (to ``mid``)-bn1-SiLU, conv_dw-bn2-SiLU, se, conv_pwl-bn3,
    plus identity when the stride is 1 and the width unchanged."""

    features: int
    kernel: int
    stride: int
    mid: int
    se_reduced: int
    padding: str = "same"
    bn_eps: float = 1e-3
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        out = conv(x, self.mid, 1, 1, self.padding, self.dtype, "conv_pw")
        out = nn.silu(batch_norm(out, train, self.bn_eps, self.dtype, "bn1"))
        out = conv(
            out, self.mid, self.kernel, self.stride, self.padding, self.dtype, "conv_dw", groups=self.mid
        )
        out = nn.silu(batch_norm(out, train, self.bn_eps, self.dtype, "bn2"))
        out = SqueezeExcite(self.se_reduced, self.dtype, name="se")(out)
        out = conv(out, self.features, 1, 1, self.padding, self.dtype, "conv_pwl")
        out = batch_norm(out, train, self.bn_eps, self.dtype, "bn3")
        return out + x if self.stride == 1 and x.shape[-1] == self.features else out


class EfficientNet(nn.Module):
    """timm ``EfficientNet`` as ``_gen_efficientnet`` builds it: conv_stem (3x3/2)-bn1-SiLU, the scaled
    stages ``blocks_{stage}_{block}``, conv_head (1x1)-bn2-SiLU, global average pool, ``classifier``.

    Attributes:
      channel_multiplier: width scaling (1.0 for B0 ... 2.0 for B7); every width is rounded by
        ``round_channels`` (stem 32, stage widths, head 1280).
      depth_multiplier: depth scaling (1.0 ... 3.1), one value or one per stage (``stage_repeats``).
      stages: the unscaled stage table (``EFFICIENTNET_STAGES``).
      channel_divisor: widths are multiples of it (8).
      padding: ``'same'`` (TF, the ``tf_`` ports and lukemelas) or ``'symmetric'`` (torchvision).
      bn_eps: BatchNorm epsilon (1e-3 for TF ports, 1e-5 for torchvision's B0/B1).
      num_classes: outputs of ``classifier``.
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default;
        (0.5, 0.5, 0.5) for AdvProp, i.e. ``x * 2 - 1``).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    channel_multiplier: float = 1.0
    depth_multiplier: float | Sequence[float] = 1.0
    stages: Sequence[Stage] = EFFICIENTNET_STAGES
    channel_divisor: int = 8
    padding: Literal["same", "symmetric"] = "same"
    bn_eps: float = 1e-3
    num_classes: int = 1000
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    def _round(self, channels: int) -> int:
        return round_channels(channels, self.channel_multiplier, self.channel_divisor)

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(x, self._round(32), 3, 2, self.padding, self.dtype, "conv_stem")
        x = nn.silu(batch_norm(x, train, self.bn_eps, self.dtype, "bn1"))
        stages = tuple(self.stages)
        repeats_per_stage = stage_repeats(stages, self.depth_multiplier)
        for index, (stage, repeats) in enumerate(zip(stages, repeats_per_stage, strict=True)):
            features = self._round(stage.features)
            for block in range(repeats):
                stride = stage.stride if block == 0 else 1
                width = x.shape[-1]
                common = {"padding": self.padding, "bn_eps": self.bn_eps, "dtype": self.dtype,
                          "name": f"blocks_{index}_{block}"}
                if stage.kind == "ds":
                    # timm's builder divides se_ratio by the expansion ratio, absent (1) for 'ds'
                    se_reduced = round(width * stage.se_ratio)
                    x = DepthwiseSeparable(features, stage.kernel, stride, se_reduced, **common)(x, train)
                else:
                    mid = make_divisible(width * stage.expand_ratio)
                    se_reduced = round(mid * (stage.se_ratio / stage.expand_ratio))
                    x = InvertedResidual(features, stage.kernel, stride, mid, se_reduced, **common)(x, train)
        x = conv(x, self._round(1280), 1, 1, self.padding, self.dtype, "conv_head")
        x = nn.silu(batch_norm(x, train, self.bn_eps, self.dtype, "bn2"))
        return pooled_logits(x, self.num_classes, self.dtype, name="classifier")


# name -> (channel multiplier, depth multiplier, input size of the pretrained checkpoints), timm's
# ``tf_efficientnet_b*`` and their ``default_cfgs`` (= lukemelas ``efficientnet_params``)
_TF_CONFIGS: dict[str, tuple[float, float, int]] = {
    "tf_efficientnet_b0": (1.0, 1.0, 224),
    "tf_efficientnet_b1": (1.0, 1.1, 240),
    "tf_efficientnet_b2": (1.1, 1.2, 260),
    "tf_efficientnet_b3": (1.2, 1.4, 300),
    "tf_efficientnet_b4": (1.4, 1.8, 380),
    "tf_efficientnet_b5": (1.6, 2.2, 456),
    "tf_efficientnet_b6": (1.8, 2.6, 528),
    "tf_efficientnet_b7": (2.0, 3.1, 600),
}
# torchvision ``efficientnet_b0`` / ``b1`` (weights ``IMAGENET1K_V1`` at 224 and 240)
_TV_CONFIGS: dict[str, tuple[float, float, int]] = {
    "tv_efficientnet_b0": (1.0, 1.0, 224),
    "tv_efficientnet_b1": (1.0, 1.1, 240),
}
TF_EFFICIENTNETS = tuple(_TF_CONFIGS)
TV_EFFICIENTNETS = tuple(_TV_CONFIGS)


def build_efficientnet(
    arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any
) -> EfficientNet:
    """An EfficientNet by name; ``kwargs`` override attributes (``channel_multiplier``, ``mean``/``std``
    ...)."""
    if arch in _TF_CONFIGS:
        channel_multiplier, depth_multiplier, _ = _TF_CONFIGS[arch]
        options: dict[str, Any] = {"padding": "same", "bn_eps": 1e-3}
    else:
        channel_multiplier, depth_multiplier, _ = _TV_CONFIGS[arch]
        options = {"padding": "symmetric", "bn_eps": 1e-5}
    options.update(channel_multiplier=channel_multiplier, depth_multiplier=depth_multiplier)
    options.update(kwargs)
    return EfficientNet(num_classes=num_classes, dtype=dtype, **options)


def architecture_stages(arch: str) -> tuple[tuple[Stage, int], ...]:
    """``(stage, blocks in it)`` of a registered EfficientNet at its default depth (for key maps)."""
    _, depth_multiplier, _ = {**_TF_CONFIGS, **_TV_CONFIGS}[arch]
    return tuple(zip(EFFICIENTNET_STAGES, stage_repeats(EFFICIENTNET_STAGES, depth_multiplier), strict=True))


for _arch, (_, _, _size) in {**_TF_CONFIGS, **_TV_CONFIGS}.items():
    register_architecture(_arch, input_shape=None if _size == 224 else (_size, _size, 3))(
        functools.partial(build_efficientnet, _arch)
    )
del _arch, _size
