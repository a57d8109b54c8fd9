"""CORnet-Z and CORnet-S, with dicarlolab/CORnet's module names.

Kubilius et al. 2018, "CORnet: Modeling the Neural Mechanisms of Core Object Recognition" (bioRxiv);
Kubilius et al. 2019, "Brain-Like Object Recognition with High-Performing Shallow Recurrent ANNs"
(NeurIPS).

Reference: ``dicarlolab/CORnet@d0cc17d:cornet/cornet_z.py`` and ``cornet/cornet_s.py``. Areas ``V1``,
``V2``, ``V4``, ``IT`` and the ``decoder`` (average pool, ``linear``) keep their torch names, so the
torchvision-style converter (``alignjax.weights.keymaps.brain_models``) only renames and transposes.

CORnet-S areas V2/V4/IT are recurrent: the block runs ``times`` steps (2, 4, 2) with the *same*
``conv1``/``conv2``/``conv3`` weights and a separate BatchNorm per step (``norm1_0``, ``norm1_1``, ...).
At step 0 the skip path is ``norm_skip(skip(x))`` and ``conv2`` has stride 2; at later steps the skip is
the identity and ``conv2`` has stride 1 (the torch code mutates ``conv2.stride``; here ``conv2`` is one
kernel applied with a per-call stride).

Deviations: none in the maths. Inputs are [0, 1] NHWC images normalised inside with ImageNet mean/std,
as the CORnet training script does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.fast_conv import fast_conv_general_dilated
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize


def _max_pool(x: jax.Array) -> jax.Array:
    """``nn.MaxPool2d(kernel_size=3, stride=2, padding=1)`` (padding never wins the max)."""
    return max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))


class Decoder(nn.Module):
    """``decoder``: adaptive average pool to 1x1, flatten, ``linear``."""

    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.mean(x.astype(jnp.float32), axis=(1, 2)).astype(self.dtype)
        return nn.Dense(self.num_classes, dtype=self.dtype, name="linear")(x)


class CORblockZ(nn.Module):
    """conv (with bias, 'same' padding) - ReLU - 3x3/2 max pool."""

    features: int
    kernel_size: int = 3
    stride: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        x = conv(self.features, k, self.stride, k // 2, self.dtype, "conv", bias=True)(x)
        return _max_pool(nn.relu(x))


class CORnetZ(nn.Module):
    """CORnet-Z: four conv-pool areas and a linear decoder.

    Attributes:
      widths: channels of V1, V2, V4, IT ((64, 128, 256, 512) in the paper).
    """

    num_classes: int = 1000
    widths: Sequence[int] = (64, 128, 256, 512)
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train  # no batch statistics or dropout
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = CORblockZ(self.widths[0], kernel_size=7, stride=2, dtype=self.dtype, name="V1")(x)
        for area, width in zip(("V2", "V4", "IT"), self.widths[1:], strict=True):
            x = CORblockZ(width, dtype=self.dtype, name=area)(x)
        return Decoder(self.num_classes, dtype=self.dtype, name="decoder")(x).astype(jnp.float32)


class SharedStrideConv(nn.Module):
    """A bias-free 'same'-padded conv whose stride is chosen per call (CORnet-S ``conv2``)."""

    features: int
    kernel_size: int = 3
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, stride: int) -> jax.Array:
        k = self.kernel_size
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features), jnp.float32
        )
        pad = k // 2
        return fast_conv_general_dilated(
            x.astype(self.dtype),
            kernel.astype(self.dtype),
            window_strides=(stride, stride),
            padding=((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )


class CORblockS(nn.Module):
    """Recurrent bottleneck area of CORnet-S (``scale`` = 4) run for ``times`` steps."""

    features: int
    times: int
    scale: int = 4
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        inner = self.features * self.scale
        x = conv(self.features, 1, 1, 0, self.dtype, "conv_input")(x)
        conv1 = conv(inner, 1, 1, 0, self.dtype, "conv1")
        conv2 = SharedStrideConv(inner, 3, dtype=self.dtype, name="conv2")
        conv3 = conv(self.features, 1, 1, 0, self.dtype, "conv3")
        for t in range(self.times):
            if t == 0:
                skip = batch_norm(train, self.dtype, "norm_skip")(
                    conv(self.features, 1, 2, 0, self.dtype, "skip")(x)
                )
            else:
                skip = x
            x = nn.relu(batch_norm(train, self.dtype, f"norm1_{t}")(conv1(x)))
            x = nn.relu(batch_norm(train, self.dtype, f"norm2_{t}")(conv2(x, stride=2 if t == 0 else 1)))
            x = batch_norm(train, self.dtype, f"norm3_{t}")(conv3(x))
            x = nn.relu(x + skip)
        return x


class CORnetS(nn.Module):
    """CORnet-S: a two-conv V1 then recurrent V2/V4/IT and a linear decoder.

    Attributes:
      widths: channels of V1, V2, V4, IT ((64, 128, 256, 512) in the paper).
      times: recurrent steps of V2, V4, IT ((2, 4, 2) in the paper).
    """

    num_classes: int = 1000
    widths: Sequence[int] = (64, 128, 256, 512)
    times: Sequence[int] = (2, 4, 2)
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = V1S(self.widths[0], dtype=self.dtype, name="V1")(x, train)
        for area, width, times in zip(("V2", "V4", "IT"), self.widths[1:], self.times, strict=True):
            x = CORblockS(width, times, dtype=self.dtype, name=area)(x, train)
        return Decoder(self.num_classes, dtype=self.dtype, name="decoder")(x).astype(jnp.float32)


class V1S(nn.Module):
    """CORnet-S ``V1``: conv1 7x7/2 - norm1 - ReLU - max pool - conv2 3x3 - norm2 - ReLU."""

    features: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = conv(self.features, 7, 2, 3, self.dtype, "conv1")(x)
        x = _max_pool(nn.relu(batch_norm(train, self.dtype, "norm1")(x)))
        x = conv(self.features, 3, 1, 1, self.dtype, "conv2")(x)
        return nn.relu(batch_norm(train, self.dtype, "norm2")(x))


@register_architecture("cornet_z")
def build_cornet_z(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> CORnetZ:
    """CORnet-Z; ``widths`` (and ``mean``/``std``) may be overridden for small test models."""
    return CORnetZ(num_classes=num_classes, dtype=dtype, **kwargs)


@register_architecture("cornet_s")
def build_cornet_s(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> CORnetS:
    """CORnet-S; ``widths`` and ``times`` may be overridden for small test models."""
    return CORnetS(num_classes=num_classes, dtype=dtype, **kwargs)
