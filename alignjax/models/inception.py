"""torchvision GoogLeNet (Inception-v1) and Inception-v3 in Flax, NHWC, module tree = torch's.

Szegedy et al. 2015, "Going Deeper with Convolutions" (GoogLeNet); Szegedy et al. 2016, "Rethinking
the Inception Architecture for Computer Vision" (Inception-v3). Reference files ``torchvision 0.28.0
torchvision/models/googlenet.py`` and ``torchvision/models/inception.py``; timm 1.0.31
``timm/models/inception_v3.py`` has the same module names as torchvision's Inception-v3. Submodules are
named as torch's state dict (``inception3a.branch2.1.bn`` -> ``inception3a/branch2_1/bn``,
``Mixed_5b.branch5x5_1.conv`` -> ``Mixed_5b/branch5x5_1/conv``), so the converter in
``alignjax.weights.keymaps.inception`` only renames and transposes (and drops the auxiliary heads).

Both nets take [0, 1] images and normalise them with ``mean``/``std`` (ImageNet's). With
``transform_input`` (the default, as torchvision sets it for its pretrained weights) they then apply
torchvision's ``_transform_input``: per channel ``x * (std_c / 0.5) + (mean_c - 0.5) / 0.5`` with
torchvision's hard-coded ImageNet constants, which maps ImageNet-normalised input to ``(x - 0.5) / 0.5``,
the input the weights (ported from TensorFlow) were trained on. timm's ``inception_v3`` has no
transform and uses mean = std = 0.5 for those weights: ``mean=(0.5,)*3, std=(0.5,)*3,
transform_input=False`` is that model.

Deviations: the auxiliary classifiers (used only in training: torchvision's eval-mode forward never
calls them; its pretrained GoogLeNet drops them) are not built. Dropout before ``fc`` is not applied
(``train`` switches BatchNorm only). ``width_divisor`` (1 = torchvision) divides every channel count,
for small test models only. GoogLeNet's "5x5" branch is a 3x3 conv, as in torchvision (its issue 906).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.layers import Conv, pooled_logits
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, normalize

# torchvision's _transform_input constants (ImageNet's mean and std, written out in its code)
_TRANSFORM_MEAN = (0.485, 0.456, 0.406)
_TRANSFORM_STD = (0.229, 0.224, 0.225)


def transform_input(x: jnp.ndarray) -> jnp.ndarray:
    """torchvision's ``_transform_input`` on normalised NHWC float32 input: ImageNet- to 0.5-normalised."""
    scale = jnp.asarray([s / 0.5 for s in _TRANSFORM_STD], jnp.float32)
    shift = jnp.asarray([(m - 0.5) / 0.5 for m in _TRANSFORM_MEAN], jnp.float32)
    return x * scale[None, None, None, :] + shift[None, None, None, :]


def divided(features: int, divisor: int) -> int:
    """A channel count divided by ``width_divisor`` (at least 1)."""
    return max(1, features // divisor)


def max_pool_ceil(x: jnp.ndarray, kernel: int, stride: int) -> jnp.ndarray:
    """``nn.MaxPool2d(kernel, stride, ceil_mode=True)`` (no padding): the last, partial window is kept, as
    -inf padding on the high side (which never wins the max)."""

    def extra(size: int) -> int:
        out = -(-(size - kernel) // stride) + 1
        if (out - 1) * stride >= size:  # torch's rule: the last window must start inside the input
            out -= 1
        return (out - 1) * stride + kernel - size

    return max_pool(x, (kernel, kernel), (stride, stride), ((0, extra(x.shape[1])), (0, extra(x.shape[2]))))


def avg_pool_3x3(x: jnp.ndarray) -> jnp.ndarray:
    """``F.avg_pool2d(x, 3, stride=1, padding=1)`` (zero padding counted: sum / 9), as a sum of shifted views."""
    height, width = x.shape[1:3]
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    total = sum(padded[:, i : i + height, j : j + width, :] for i in range(3) for j in range(3))
    return total / jnp.asarray(9, x.dtype)


class BasicConv2d(nn.Module):
    """torchvision ``BasicConv2d``: conv (no bias) - BatchNorm (eps 1e-3, float32) - ReLU."""

    features: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    padding: tuple[int, int] = (0, 0)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        (ph, pw) = self.padding
        x = Conv(
            self.features, self.kernel, strides=(self.stride, self.stride), padding=((ph, ph), (pw, pw)),
            use_bias=False, dtype=self.dtype, name="conv",
        )(x)
        bn = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3, dtype=jnp.float32, name="bn")
        return nn.relu(bn(x.astype(jnp.float32))).astype(self.dtype)


def _concat(*branches: jnp.ndarray) -> jnp.ndarray:
    return jnp.concatenate(branches, axis=-1)


class InceptionV1Block(nn.Module):
    """torchvision GoogLeNet ``Inception``: 1x1 | 1x1-3x3 | 1x1-3x3 | 3x3/1 max pool-1x1, concatenated.

    ``channels``: (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), already divided."""

    channels: Sequence[int]
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c1, c3r, c3, c5r, c5, cp = self.channels
        d = self.dtype
        b1 = BasicConv2d(c1, dtype=d, name="branch1")(x, train)
        b2 = BasicConv2d(c3r, dtype=d, name="branch2_0")(x, train)
        b2 = BasicConv2d(c3, (3, 3), padding=(1, 1), dtype=d, name="branch2_1")(b2, train)
        b3 = BasicConv2d(c5r, dtype=d, name="branch3_0")(x, train)
        b3 = BasicConv2d(c5, (3, 3), padding=(1, 1), dtype=d, name="branch3_1")(b3, train)
        b4 = max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))  # ceil_mode changes nothing at stride 1
        b4 = BasicConv2d(cp, dtype=d, name="branch4_1")(b4, train)
        return _concat(b1, b2, b3, b4)


# GoogLeNet's inception blocks: name -> (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj); None = max pool
_GOOGLENET_BLOCKS: tuple[tuple[str, tuple[int, ...] | None], ...] = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("maxpool3", None),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("maxpool4", None),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)


class _InceptionNet(nn.Module):
    """What GoogLeNet and Inception-v3 share: the attributes and the input end.

    Attributes:
      num_classes: outputs of ``fc``.
      transform_input: apply torchvision's ``_transform_input`` after the normalisation (see the module
        docstring); True, as torchvision builds it for its pretrained weights.
      width_divisor: divides every channel count (1 = torchvision; tests use small models).
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    num_classes: int = 1000
    transform_input: bool = True
    width_divisor: int = 1
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    def _network_input(self, x: jnp.ndarray) -> jnp.ndarray:
        """[0, 1] images -> normalised (and transformed) input in the compute dtype."""
        x = normalize(x, self.mean, self.std)
        if self.transform_input:
            x = transform_input(x)
        return x.astype(self.dtype)


class GoogLeNet(_InceptionNet):
    """torchvision ``GoogLeNet`` in eval form (no auxiliary heads); attributes as ``_InceptionNet``'s."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = self._network_input(x)
        d, w = self.dtype, functools.partial(divided, divisor=self.width_divisor)
        x = BasicConv2d(w(64), (7, 7), 2, (3, 3), d, name="conv1")(x, train)
        x = max_pool_ceil(x, 3, 2)
        x = BasicConv2d(w(64), dtype=d, name="conv2")(x, train)
        x = BasicConv2d(w(192), (3, 3), padding=(1, 1), dtype=d, name="conv3")(x, train)
        x = max_pool_ceil(x, 3, 2)
        for name, channels in _GOOGLENET_BLOCKS:
            if channels is None:
                x = max_pool_ceil(x, 3 if name == "maxpool3" else 2, 2)
            else:
                x = InceptionV1Block(tuple(w(c) for c in channels), d, name=name)(x, train)
        return pooled_logits(x, self.num_classes, d)


class InceptionA(nn.Module):
    """torchvision ``InceptionA``: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg pool-1x1 (``pool_features``)."""

    pool_features: int
    divisor: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c, d = functools.partial(divided, divisor=self.divisor), self.dtype
        b1 = BasicConv2d(c(64), dtype=d, name="branch1x1")(x, train)
        b5 = BasicConv2d(c(48), dtype=d, name="branch5x5_1")(x, train)
        b5 = BasicConv2d(c(64), (5, 5), padding=(2, 2), dtype=d, name="branch5x5_2")(b5, train)
        b3 = BasicConv2d(c(64), dtype=d, name="branch3x3dbl_1")(x, train)
        b3 = BasicConv2d(c(96), (3, 3), padding=(1, 1), dtype=d, name="branch3x3dbl_2")(b3, train)
        b3 = BasicConv2d(c(96), (3, 3), padding=(1, 1), dtype=d, name="branch3x3dbl_3")(b3, train)
        bp = BasicConv2d(self.pool_features, dtype=d, name="branch_pool")(avg_pool_3x3(x), train)
        return _concat(b1, b5, b3, bp)


class InceptionB(nn.Module):
    """torchvision ``InceptionB`` (grid reduction): 3x3/2 | 1x1-3x3-3x3/2 | 3x3/2 max pool."""

    divisor: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c, d = functools.partial(divided, divisor=self.divisor), self.dtype
        b3 = BasicConv2d(c(384), (3, 3), 2, dtype=d, name="branch3x3")(x, train)
        bd = BasicConv2d(c(64), dtype=d, name="branch3x3dbl_1")(x, train)
        bd = BasicConv2d(c(96), (3, 3), padding=(1, 1), dtype=d, name="branch3x3dbl_2")(bd, train)
        bd = BasicConv2d(c(96), (3, 3), 2, dtype=d, name="branch3x3dbl_3")(bd, train)
        return _concat(b3, bd, max_pool(x, (3, 3), (2, 2)))


class InceptionC(nn.Module):
    """torchvision ``InceptionC``: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avg pool-1x1 (``channels_7x7`` inside)."""

    channels_7x7: int
    divisor: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c, d, c7 = functools.partial(divided, divisor=self.divisor), self.dtype, self.channels_7x7
        row, col = {"kernel": (1, 7), "padding": (0, 3)}, {"kernel": (7, 1), "padding": (3, 0)}
        b1 = BasicConv2d(c(192), dtype=d, name="branch1x1")(x, train)
        b7 = BasicConv2d(c7, dtype=d, name="branch7x7_1")(x, train)
        b7 = BasicConv2d(c7, **row, dtype=d, name="branch7x7_2")(b7, train)
        b7 = BasicConv2d(c(192), **col, dtype=d, name="branch7x7_3")(b7, train)
        bd = BasicConv2d(c7, dtype=d, name="branch7x7dbl_1")(x, train)
        for index, (features, shape) in enumerate(((c7, col), (c7, row), (c7, col), (c(192), row)), start=2):
            bd = BasicConv2d(features, **shape, dtype=d, name=f"branch7x7dbl_{index}")(bd, train)
        bp = BasicConv2d(c(192), dtype=d, name="branch_pool")(avg_pool_3x3(x), train)
        return _concat(b1, b7, bd, bp)


class InceptionD(nn.Module):
    """torchvision ``InceptionD`` (grid reduction): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | 3x3/2 max pool."""

    divisor: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c, d = functools.partial(divided, divisor=self.divisor), self.dtype
        b3 = BasicConv2d(c(192), dtype=d, name="branch3x3_1")(x, train)
        b3 = BasicConv2d(c(320), (3, 3), 2, dtype=d, name="branch3x3_2")(b3, train)
        b7 = BasicConv2d(c(192), dtype=d, name="branch7x7x3_1")(x, train)
        b7 = BasicConv2d(c(192), (1, 7), padding=(0, 3), dtype=d, name="branch7x7x3_2")(b7, train)
        b7 = BasicConv2d(c(192), (7, 1), padding=(3, 0), dtype=d, name="branch7x7x3_3")(b7, train)
        b7 = BasicConv2d(c(192), (3, 3), 2, dtype=d, name="branch7x7x3_4")(b7, train)
        return _concat(b3, b7, max_pool(x, (3, 3), (2, 2)))


class InceptionE(nn.Module):
    """torchvision ``InceptionE``: 1x1 | 1x1-(1x3 | 3x1) | 1x1-3x3-(1x3 | 3x1) | avg pool-1x1."""

    divisor: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c, d = functools.partial(divided, divisor=self.divisor), self.dtype
        row, col = {"kernel": (1, 3), "padding": (0, 1)}, {"kernel": (3, 1), "padding": (1, 0)}
        b1 = BasicConv2d(c(320), dtype=d, name="branch1x1")(x, train)
        b3 = BasicConv2d(c(384), dtype=d, name="branch3x3_1")(x, train)
        b3 = _concat(
            BasicConv2d(c(384), **row, dtype=d, name="branch3x3_2a")(b3, train),
            BasicConv2d(c(384), **col, dtype=d, name="branch3x3_2b")(b3, train),
        )
        bd = BasicConv2d(c(448), dtype=d, name="branch3x3dbl_1")(x, train)
        bd = BasicConv2d(c(384), (3, 3), padding=(1, 1), dtype=d, name="branch3x3dbl_2")(bd, train)
        bd = _concat(
            BasicConv2d(c(384), **row, dtype=d, name="branch3x3dbl_3a")(bd, train),
            BasicConv2d(c(384), **col, dtype=d, name="branch3x3dbl_3b")(bd, train),
        )
        bp = BasicConv2d(c(192), dtype=d, name="branch_pool")(avg_pool_3x3(x), train)
        return _concat(b1, b3, bd, bp)


class InceptionV3(_InceptionNet):
    """torchvision ``Inception3`` in eval form (no ``AuxLogits``); 299x299 inputs (75x75 at least).
    Attributes as ``_InceptionNet``'s."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = self._network_input(x)
        n, d = self.width_divisor, self.dtype
        c = functools.partial(divided, divisor=n)
        x = BasicConv2d(c(32), (3, 3), 2, dtype=d, name="Conv2d_1a_3x3")(x, train)
        x = BasicConv2d(c(32), (3, 3), dtype=d, name="Conv2d_2a_3x3")(x, train)
        x = BasicConv2d(c(64), (3, 3), padding=(1, 1), dtype=d, name="Conv2d_2b_3x3")(x, train)
        x = max_pool(x, (3, 3), (2, 2))
        x = BasicConv2d(c(80), dtype=d, name="Conv2d_3b_1x1")(x, train)
        x = BasicConv2d(c(192), (3, 3), dtype=d, name="Conv2d_4a_3x3")(x, train)
        x = max_pool(x, (3, 3), (2, 2))
        for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = InceptionA(c(pool_features), n, d, name=name)(x, train)
        x = InceptionB(n, d, name="Mixed_6a")(x, train)
        for name, channels_7x7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(c(channels_7x7), n, d, name=name)(x, train)
        x = InceptionD(n, d, name="Mixed_7a")(x, train)
        x = InceptionE(n, d, name="Mixed_7b")(x, train)
        x = InceptionE(n, d, name="Mixed_7c")(x, train)
        return pooled_logits(x, self.num_classes, d)


@register_architecture("googlenet")
def build_googlenet(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> GoogLeNet:
    """torchvision ``googlenet`` as built for its pretrained weights; ``kwargs`` override attributes."""
    return GoogLeNet(num_classes=num_classes, dtype=dtype, **kwargs)


@register_architecture("inception_v3", input_shape=(299, 299, 3))
def build_inception_v3(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> InceptionV3:
    """torchvision ``inception_v3`` as built for its pretrained weights; ``kwargs`` override attributes."""
    return InceptionV3(num_classes=num_classes, dtype=dtype, **kwargs)
