"""torchvision DenseNet-121/161/169/201 in Flax, NHWC, module tree = torch's.

Huang et al. 2017, "Densely Connected Convolutional Networks" (DenseNet-BC: 1x1 bottleneck of
``bn_size * growth_rate`` features before each 3x3 conv, transitions halving the features); reference
file ``torchvision 0.28.0 torchvision/models/densenet.py``. Submodules are named as torch's state dict
(``features.denseblock1.denselayer1.norm1`` -> ``features/denseblock1/denselayer1/norm1``), so the
converter in ``alignjax.weights.keymaps.densenet`` only renames and transposes (and maps the old
``norm.1`` / ``conv.1`` names of torchvision's released files).

Deviations: none in eval mode. Dropout (``drop_rate``, 0 in every torchvision model) and the
``memory_efficient`` checkpointing (same maths) are not implemented. A dense block appends each
layer's output to one growing concatenation instead of keeping the list of feature maps: the input
to every layer is the same ``torch.cat`` of all earlier outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.cifar_resnet import avg_pool
from alignjax.models.max_pool import max_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import IMAGENET_MEAN, IMAGENET_STD, batch_norm, conv, normalize


class DenseLayer(nn.Module):
    """torchvision ``_DenseLayer``: bn-relu-conv1x1 (``bn_size * growth_rate``)-bn-relu-conv3x3 (``growth_rate``);
    returns only the new features."""

    growth_rate: int
    bn_size: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(batch_norm(train, self.dtype, "norm1")(x))
        x = conv(self.bn_size * self.growth_rate, 1, 1, 0, self.dtype, "conv1")(x)
        x = nn.relu(batch_norm(train, self.dtype, "norm2")(x))
        return conv(self.growth_rate, 3, 1, 1, self.dtype, "conv2")(x)


class DenseBlock(nn.Module):
    """torchvision ``_DenseBlock``: ``num_layers`` dense layers, each taking the concatenation of the
    block's input and every earlier layer's output; returns that concatenation with the last output."""

    num_layers: int
    growth_rate: int
    bn_size: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        for index in range(self.num_layers):
            layer = DenseLayer(self.growth_rate, self.bn_size, self.dtype, name=f"denselayer{index + 1}")
            x = jnp.concatenate([x, layer(x, train)], axis=-1)
        return x


class Transition(nn.Module):
    """torchvision ``_Transition``: bn-relu-conv1x1 (``features``)-2x2 average pool (stride 2)."""

    features: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(batch_norm(train, self.dtype, "norm")(x))
        x = conv(self.features, 1, 1, 0, self.dtype, "conv")(x)
        return avg_pool(x, 2)


class Features(nn.Module):
    """torchvision ``DenseNet.features``: stem (conv0 7x7/2, norm0, relu, 3x3/2 max pool), dense blocks
    with transitions halving the features between them, ``norm5``."""

    growth_rate: int
    block_config: Sequence[int]
    num_init_features: int
    bn_size: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = conv(self.num_init_features, 7, 2, 3, self.dtype, "conv0")(x)
        x = nn.relu(batch_norm(train, self.dtype, "norm0")(x))
        x = max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
        for block, num_layers in enumerate(self.block_config):
            x = DenseBlock(num_layers, self.growth_rate, self.bn_size, self.dtype, name=f"denseblock{block + 1}")(
                x, train
            )
            if block != len(self.block_config) - 1:
                x = Transition(x.shape[-1] // 2, self.dtype, name=f"transition{block + 1}")(x, train)
        return batch_norm(train, self.dtype, "norm5")(x)


class DenseNet(nn.Module):
    """torchvision ``DenseNet``: ``features``, ReLU, global average pool, ``classifier``.

    Attributes:
      growth_rate: features each dense layer adds (32; 48 for DenseNet-161).
      block_config: layers per dense block, e.g. (6, 12, 24, 16) for DenseNet-121.
      num_init_features: features of the stem conv (64; 96 for DenseNet-161).
      bn_size: bottleneck width per growth-rate feature (4).
      num_classes: outputs of ``classifier``.
      mean, std: per-channel input normalisation applied to [0, 1] images (ImageNet's by default).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    growth_rate: int = 32
    block_config: Sequence[int] = (6, 12, 24, 16)
    num_init_features: int = 64
    bn_size: int = 4
    num_classes: int = 1000
    mean: Sequence[float] | None = IMAGENET_MEAN
    std: Sequence[float] | None = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = Features(
            self.growth_rate, tuple(self.block_config), self.num_init_features, self.bn_size, self.dtype,
            name="features",
        )(x, train)
        x = jnp.mean(nn.relu(x), axis=(1, 2))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier")(x)
        return x.astype(jnp.float32)


# name -> (growth rate, block config, initial features), as torchvision's constructors
_CONFIGS: dict[str, tuple[int, tuple[int, ...], int]] = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def build_densenet(arch: str, num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> DenseNet:
    """A torchvision DenseNet by name; ``kwargs`` override attributes (``block_config``, ``growth_rate`` ...)."""
    growth_rate, block_config, num_init_features = _CONFIGS[arch]
    options: dict[str, Any] = {
        "growth_rate": growth_rate, "block_config": block_config, "num_init_features": num_init_features,
    }
    options.update(kwargs)
    return DenseNet(num_classes=num_classes, dtype=dtype, **options)


for _arch in _CONFIGS:
    register_architecture(_arch)(functools.partial(build_densenet, _arch))
del _arch
