"""CIFAR ResNet-18 of auto-attack's examples, in Flax (NHWC), and the CIFAR average pool.

``CifarResNet``: ``fra31/auto-attack@a392200:autoattack/examples/resnet.py`` (He et al. 2016 with a
3x3 stride-1 stem, no max pool, ``avg_pool2d(out, 4)``), the model of ``model_test.pt``; RobustBench's
``ResNet18()`` (``robustbench/model_zoo/architectures/resnet.py``) is the same network. RobustBench's
PreActResNet-18 variants live in ``preact_resnet.py``.

Submodule names follow the torch state dict (``layer1.0.shortcut.0`` -> ``layer1_0/shortcut_0``).
The reference does not normalise its input; ``mean``/``std`` are there for checkpoints that do. It
expects 32x32 inputs: the final 4x4 average pool must leave 1x1 features for ``linear``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.alexnet import flatten_nchw
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import batch_norm, conv, normalize

CIFAR_WIDTHS = (64, 128, 256, 512)


def avg_pool(x: jnp.ndarray, window: int) -> jnp.ndarray:
    """``F.avg_pool2d(x, window)`` (stride = window, no padding, remainder dropped) on NHWC input.

    A reshape-mean rather than ``reduce_window``: ``nn.pool`` with an array init value has no
    reverse-mode rule under ``jit`` (``jax.jit(jax.grad(...))`` fails to linearise), and
    ``flax.linen.avg_pool`` divides by an integer array, which strict dtype promotion rejects.
    """
    batch, height, width, channels = x.shape
    rows, cols = height // window, width // window
    x = x[:, : rows * window, : cols * window, :]
    return x.reshape(batch, rows, window, cols, window, channels).mean(axis=(2, 4))


class CifarBasicBlock(nn.Module):
    """auto-attack ``BasicBlock``: conv-bn-relu-conv-bn, plus identity or ``shortcut`` (conv1x1-bn), relu."""

    planes: int
    stride: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        out = nn.relu(
            batch_norm(train, self.dtype, "bn1")(conv(self.planes, 3, self.stride, 1, self.dtype, "conv1")(x))
        )
        out = batch_norm(train, self.dtype, "bn2")(conv(self.planes, 3, 1, 1, self.dtype, "conv2")(out))
        if self.stride != 1 or x.shape[-1] != self.planes:
            x = conv(self.planes, 1, self.stride, 0, self.dtype, "shortcut_0")(x)
            x = batch_norm(train, self.dtype, "shortcut_1")(x)
        return nn.relu(out + x)


class CifarResNet(nn.Module):
    """auto-attack's ResNet for 32x32 inputs.

    Attributes:
      stage_sizes: blocks per stage ((2, 2, 2, 2) for ResNet-18).
      num_classes: outputs of ``linear``.
      widths: planes per stage ((64, 128, 256, 512)); tests use small ones.
      mean, std: optional per-channel input normalisation (None: inputs used as they are).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int] = (2, 2, 2, 2)
    num_classes: int = 10
    widths: Sequence[int] = CIFAR_WIDTHS
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.widths[0], 3, 1, 1, self.dtype, "conv1")(x)
        x = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        for stage, (num_blocks, planes) in enumerate(zip(self.stage_sizes, self.widths, strict=True)):
            for index in range(num_blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                x = CifarBasicBlock(planes, stride, self.dtype, name=f"layer{stage + 1}_{index}")(x, train)
        x = flatten_nchw(avg_pool(x, 4))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="linear")(x)
        return x.astype(jnp.float32)


def build_cifar_resnet18(num_classes: int = 10, dtype: Any = jnp.float32, **kwargs: Any) -> CifarResNet:
    return CifarResNet(num_classes=num_classes, dtype=dtype, **kwargs)


register_architecture("cifar_resnet18", input_shape=(32, 32, 3))(build_cifar_resnet18)
