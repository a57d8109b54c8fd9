"""WideResNets for CIFAR in Flax (NHWC): RobustBench's classic layout and DeepMind's ``DMWideResNet``.

Zagoruyko & Komodakis 2016, "Wide Residual Networks".

- ``WideResNet``: ``RobustBench/robustbench@v1.1:robustbench/model_zoo/architectures/wide_resnet.py``
  (from TRADES): ``conv1``, ``block{1,2,3}.layer.<i>`` with ``bn1/relu1/conv1/bn2/relu2/conv2`` and
  ``convShortcut``, final ``bn1`` + ReLU, ``avg_pool2d(out, 8)``, ``fc``. When a block changes width,
  both branches start from the activated input; otherwise the identity carries the raw input.
- ``DMWideResNet``: ``robustbench/model_zoo/architectures/dm_wide_resnet.py`` (Gowal et al. 2020,
  "Uncovering the Limits of Adversarial Training..."; Rebuffi et al. 2021, "Fixing Data Augmentation
  to Improve Adversarial Robustness"): the same blocks named ``init_conv``,
  ``layer.<g>.block.<i>.{batchnorm_0,conv_0,batchnorm_1,conv_1,shortcut}``, ``batchnorm``, ``logits``;
  Swish activations; CIFAR-10 mean/std normalisation inside; TF-style ``SAME`` padding of strided
  convs (pad right/bottom by one, ``F.pad(v, (0, 1, 0, 1))``); BatchNorm momentum 0.01 (torch).

Dropout (``dropRate``) of the classic layout is not implemented: no RobustBench checkpoint uses it at
inference. Both expect 32x32 inputs (the final 8x8 average pool must leave 1x1 features).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.cifar_resnet import avg_pool
from alignjax.models.layers import Conv
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import batch_norm, conv, normalize

CIFAR_INPUT = (32, 32, 3)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)


def _channels(depth: int, widen_factor: int) -> tuple[int, tuple[int, int, int, int]]:
    if (depth - 4) % 6 != 0:
        raise ValueError(f"WideResNet depth must be 6n + 4, got {depth}")
    return (depth - 4) // 6, (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)


def _pool_and_flatten(x: jnp.ndarray, window: int) -> jnp.ndarray:
    x = avg_pool(x, window)
    if x.shape[1:3] != (1, 1):
        raise ValueError(f"expected 32x32 inputs (1x1 features after pooling), got features {x.shape}")
    return x.reshape(x.shape[0], -1)


class WideBasicBlock(nn.Module):
    """RobustBench/TRADES ``BasicBlock`` (pre-activation, ``convShortcut`` when the width changes)."""

    out_planes: int
    stride: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        equal_in_out = x.shape[-1] == self.out_planes
        activated = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        if not equal_in_out:
            x = activated
        out = conv(self.out_planes, 3, self.stride, 1, self.dtype, "conv1")(activated)
        out = nn.relu(batch_norm(train, self.dtype, "bn2")(out))
        out = conv(self.out_planes, 3, 1, 1, self.dtype, "conv2")(out)
        shortcut = (
            x if equal_in_out else conv(self.out_planes, 1, self.stride, 0, self.dtype, "convShortcut")(x)
        )
        return shortcut + out


class NetworkBlock(nn.Module):
    """RobustBench ``NetworkBlock``: ``layer.<i>`` blocks, the first with the stride."""

    num_blocks: int
    out_planes: int
    stride: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        for index in range(self.num_blocks):
            stride = self.stride if index == 0 else 1
            x = WideBasicBlock(self.out_planes, stride, self.dtype, name=f"layer_{index}")(x, train)
        return x


class WideResNet(nn.Module):
    """RobustBench's classic ``WideResNet(depth, widen_factor)``.

    Attributes:
      depth: 6n + 4 (28, 34, 70; 10 for tests).
      widen_factor: width multiplier k.
      num_classes: outputs of ``fc``.
      mean, std: optional per-channel input normalisation (None: inputs used as they are).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    depth: int = 28
    widen_factor: int = 10
    num_classes: int = 10
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        num_blocks, channels = _channels(self.depth, self.widen_factor)
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(channels[0], 3, 1, 1, self.dtype, "conv1")(x)
        for group, stride in enumerate((1, 2, 2)):
            x = NetworkBlock(num_blocks, channels[group + 1], stride, self.dtype, name=f"block{group + 1}")(
                x, train
            )
        x = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(_pool_and_flatten(x, 8))
        return x.astype(jnp.float32)


def _activation(name: str):
    return {"swish": nn.swish, "relu": nn.relu}[name]


class DMBlock(nn.Module):
    """DeepMind ``_Block``: like ``WideBasicBlock`` with TF ``SAME`` padding on the strided conv."""

    out_planes: int
    stride: int = 1
    activation: Literal["swish", "relu"] = "swish"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        act = _activation(self.activation)
        norm = functools.partial(batch_norm, train, self.dtype, torch_momentum=0.01)
        has_shortcut = x.shape[-1] != self.out_planes
        activated = act(norm("batchnorm_0")(x))
        if has_shortcut:
            x = activated
        if self.stride not in (1, 2):
            raise ValueError(f"unsupported stride {self.stride}")
        pad = ((1, 1), (1, 1)) if self.stride == 1 else ((0, 1), (0, 1))
        out = Conv(
            self.out_planes,
            (3, 3),
            strides=(self.stride, self.stride),
            padding=pad,
            use_bias=False,
            dtype=self.dtype,
            name="conv_0",
        )(activated)
        out = act(norm("batchnorm_1")(out))
        out = conv(self.out_planes, 3, 1, 1, self.dtype, "conv_1")(out)
        shortcut = conv(self.out_planes, 1, self.stride, 0, self.dtype, "shortcut")(x) if has_shortcut else x
        return shortcut + out


class DMBlockGroup(nn.Module):
    """DeepMind ``_BlockGroup``: ``block.<i>``, the first with the stride."""

    num_blocks: int
    out_planes: int
    stride: int
    activation: Literal["swish", "relu"] = "swish"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        for index in range(self.num_blocks):
            stride = self.stride if index == 0 else 1
            x = DMBlock(self.out_planes, stride, self.activation, self.dtype, name=f"block_{index}")(x, train)
        return x


class DMWideResNet(nn.Module):
    """RobustBench's ``DMWideResNet(depth, width)``.

    Attributes:
      depth: 6n + 4.
      width: width multiplier.
      num_classes: outputs of ``logits``.
      activation: 'swish' (Gowal et al., Rebuffi et al.) or 'relu'.
      mean, std: input normalisation (CIFAR-10's by default; a CIFAR-100 entry passes its own).
      padding: zero padding added around the input before normalisation (torch ``padding``).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    depth: int = 28
    width: int = 10
    num_classes: int = 10
    activation: Literal["swish", "relu"] = "swish"
    mean: Sequence[float] | None = CIFAR10_MEAN
    std: Sequence[float] | None = CIFAR10_STD
    padding: int = 0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        num_blocks, channels = _channels(self.depth, self.width)
        x = jnp.asarray(x, jnp.float32)
        if self.padding > 0:
            x = jnp.pad(x, ((0, 0), (self.padding, self.padding), (self.padding, self.padding), (0, 0)))
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(channels[0], 3, 1, 1, self.dtype, "init_conv")(x)
        for group, stride in enumerate((1, 2, 2)):
            x = DMBlockGroup(
                num_blocks, channels[group + 1], stride, self.activation, self.dtype, name=f"layer_{group}"
            )(x, train)
        x = _activation(self.activation)(batch_norm(train, self.dtype, "batchnorm", torch_momentum=0.01)(x))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="logits")(_pool_and_flatten(x, 8))
        return x.astype(jnp.float32)


def build_wide_resnet(
    num_classes: int = 10, dtype: Any = jnp.float32, *, depth: int = 28, widen_factor: int = 10, **kwargs: Any
) -> WideResNet:
    return WideResNet(depth=depth, widen_factor=widen_factor, num_classes=num_classes, dtype=dtype, **kwargs)


def build_dm_wide_resnet(
    num_classes: int = 10, dtype: Any = jnp.float32, *, depth: int = 28, width: int = 10, **kwargs: Any
) -> DMWideResNet:
    return DMWideResNet(depth=depth, width=width, num_classes=num_classes, dtype=dtype, **kwargs)


register_architecture("wrn_28_10", input_shape=CIFAR_INPUT)(
    functools.partial(build_wide_resnet, depth=28, widen_factor=10))
register_architecture("wrn_34_10", input_shape=CIFAR_INPUT)(
    functools.partial(build_wide_resnet, depth=34, widen_factor=10))
register_architecture("wrn_70_16", input_shape=CIFAR_INPUT)(
    functools.partial(build_wide_resnet, depth=70, widen_factor=16))
register_architecture("dm_wrn_28_10", input_shape=CIFAR_INPUT)(
    functools.partial(build_dm_wide_resnet, depth=28, width=10))
register_architecture("dm_wrn_70_16", input_shape=CIFAR_INPUT)(
    functools.partial(build_dm_wide_resnet, depth=70, width=16))
