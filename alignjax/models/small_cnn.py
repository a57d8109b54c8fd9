"""The embedded default model: a small CNN for sklearn's 8x8 digits.

conv3x3(16) - relu - conv3x3(32) - relu - maxpool2 - dense(64) - relu - dense(10), NHWC, inputs in
[0, 1]. Trained adversarially by ``scripts/train_digits_cnn.py``; weights in
``weights/digits_cnn.safetensors``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.layers import Conv
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture


class SmallCNN(nn.Module):
    num_classes: int = 10
    widths: tuple[int, int] = (16, 32)
    hidden: int = 64
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.astype(self.dtype)
        x = nn.relu(Conv(self.widths[0], (3, 3), padding="SAME", dtype=self.dtype, name="conv1")(x))
        x = nn.relu(Conv(self.widths[1], (3, 3), padding="SAME", dtype=self.dtype, name="conv2")(x))
        x = max_pool(x, (2, 2))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="fc1")(x))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="fc2")(x)
        return x.astype(jnp.float32)


@register_architecture("small_cnn", input_shape=(8, 8, 1))
def build_small_cnn(num_classes: int = 10, **kwargs: Any) -> SmallCNN:
    return SmallCNN(num_classes=num_classes, **kwargs)
