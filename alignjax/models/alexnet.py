"""torchvision AlexNet in Flax (NHWC), module tree = torch's; and torch's adaptive average pooling.

Krizhevsky et al. 2012, "ImageNet Classification with Deep Convolutional Neural Networks" (the
one-GPU variant of Krizhevsky 2014, "One weird trick..."); reference file
``pytorch/vision@v0.20.0:torchvision/models/alexnet.py``. Submodules are named ``features_<i>`` and
``classifier_<i>`` with torch's indices, so the converter only renames and transposes. Pooled features
are flattened in torch's (c, h, w) order, so the first linear layer takes torch's weight unpermuted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, conv, normalize


def adaptive_pool_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) averaging weights of ``torch.nn.AdaptiveAvgPool1d``.

    Bin ``i`` averages inputs ``floor(i * in / out)`` to ``ceil((i + 1) * in / out) - 1``, as torch does
    (bins overlap when ``in`` is not a multiple of ``out``, and repeat inputs when ``in < out``).
    """
    matrix = np.zeros((out_size, in_size), np.float32)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_avg_pool(x: jnp.ndarray, output_size: tuple[int, int]) -> jnp.ndarray:
    """``torch.nn.AdaptiveAvgPool2d(output_size)`` on NHWC input, for any input size (static shapes)."""
    _, height, width, _ = x.shape
    if (height, width) == tuple(output_size):
        return x
    rows = jnp.asarray(adaptive_pool_matrix(height, output_size[0]), x.dtype)
    cols = jnp.asarray(adaptive_pool_matrix(width, output_size[1]), x.dtype)
    return jnp.einsum("ih,bhwc,jw->bijc", rows, x, cols, precision=jax.lax.Precision.HIGHEST)


def flatten_nchw(x: jnp.ndarray) -> jnp.ndarray:
    """Flattens (b, h, w, c) in torch's (c, h, w) order."""
    return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)


class AlexNet(nn.Module):
    """torchvision ``AlexNet``.

    Attributes:
      num_classes: outputs of ``classifier_6``.
      widths: channels of the five convs (torchvision: 64, 192, 384, 256, 256).
      hidden: width of the two hidden linear layers (4096).
      dropout: dropout rate before the hidden linear layers (used only with ``train=True``, which then
        needs a ``'dropout'`` rng).
      mean, std: per-channel input normalisation of [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    num_classes: int = 1000
    widths: Sequence[int] = (64, 192, 384, 256, 256)
    hidden: int = 4096
    dropout: float = 0.5
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        w = self.widths
        x = nn.relu(conv(w[0], 11, 4, 2, self.dtype, "features_0", bias=True)(x))
        x = max_pool(x, (3, 3), (2, 2))
        x = nn.relu(conv(w[1], 5, 1, 2, self.dtype, "features_3", bias=True)(x))
        x = max_pool(x, (3, 3), (2, 2))
        x = nn.relu(conv(w[2], 3, 1, 1, self.dtype, "features_6", bias=True)(x))
        x = nn.relu(conv(w[3], 3, 1, 1, self.dtype, "features_8", bias=True)(x))
        x = nn.relu(conv(w[4], 3, 1, 1, self.dtype, "features_10", bias=True)(x))
        x = max_pool(x, (3, 3), (2, 2))
        x = flatten_nchw(adaptive_avg_pool(x, (6, 6)))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="classifier_1")(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="classifier_4")(x))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier_6")(x)
        return x.astype(jnp.float32)


@register_architecture("alexnet")
def build_alexnet(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> AlexNet:
    return AlexNet(num_classes=num_classes, dtype=dtype, **kwargs)
