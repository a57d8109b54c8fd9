"""torchvision VGG-16 (with and without BatchNorm) in Flax (NHWC), module tree = torch's.

Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image Recognition";
reference file ``pytorch/vision@v0.20.0:torchvision/models/vgg.py`` (configuration "D"). Submodules are
named ``features_<i>`` / ``classifier_<i>`` with torch's ``nn.Sequential`` indices, so the converter only
renames and transposes; pooled features are flattened in torch's (c, h, w) order.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.alexnet import adaptive_avg_pool, flatten_nchw
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize

VGG16_STAGES: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)


class VGG(nn.Module):
    """torchvision ``VGG``: stages of conv3x3(-bn)-relu ending in a 2x2 max pool, a (7, 7) adaptive
    average pool, then linear-relu-dropout twice and the output layer.

    Attributes:
      num_classes: outputs of ``classifier_6``.
      stages: conv widths per stage (``VGG16_STAGES`` for VGG-16); tests use small ones.
      batch_norm: BatchNorm after every conv (``vgg16_bn``).
      hidden: width of the two hidden linear layers (4096).
      dropout: dropout rate after the hidden layers (only with ``train=True``, with a ``'dropout'`` rng).
      mean, std: per-channel input normalisation of [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    num_classes: int = 1000
    stages: Sequence[Sequence[int]] = VGG16_STAGES
    batch_norm: bool = False
    hidden: int = 4096
    dropout: float = 0.5
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        index = 0  # position in torch's ``features`` Sequential
        for stage in self.stages:
            for width in stage:
                x = conv(width, 3, 1, 1, self.dtype, f"features_{index}", bias=True)(x)
                if self.batch_norm:
                    x = batch_norm(train, self.dtype, f"features_{index + 1}")(x)
                    index += 1
                x = nn.relu(x)
                index += 2
            x = max_pool(x, (2, 2))
            index += 1
        x = flatten_nchw(adaptive_avg_pool(x, (7, 7)))
        x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="classifier_0")(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="classifier_3")(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier_6")(x)
        return x.astype(jnp.float32)


def build_vgg16(
    num_classes: int = 1000, dtype: Any = jnp.float32, *, batch_norm: bool = False, **kwargs: Any
) -> VGG:
    return VGG(num_classes=num_classes, dtype=dtype, batch_norm=batch_norm, **kwargs)


register_architecture("vgg16")(build_vgg16)
register_architecture("vgg16_bn")(functools.partial(build_vgg16, batch_norm=True))
