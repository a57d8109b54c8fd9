"""ConvNeXt-T/S/B with timm's ``ConvNeXt`` layout.

Liu et al. 2022, "A ConvNet for the 2020s". The maths follows ``huggingface/pytorch-image-models``
``timm/models/convnext.py`` (timm 1.0 series, no commit pinned) for the ``convnext_{tiny,small,base}``
configurations:

- stem: 4x4 stride-4 convolution then LayerNorm2d (``stem.0``, ``stem.1``);
- stage ``i > 0`` starts with ``downsample`` = LayerNorm2d then a 2x2 stride-2 convolution;
- block: depthwise 7x7 convolution (``conv_dw``), LayerNorm over channels (``norm``), Linear MLP with
  exact GELU (``mlp.fc1``, ``mlp.fc2``), layer scale ``gamma``, residual add;
- head (``NormMlpClassifierHead``): global average pool, LayerNorm (``head.norm``), ``head.fc``.

All LayerNorms use eps 1e-6. In NHWC, timm's LayerNorm2d (channels of NCHW) is a LayerNorm over the last
axis, so every norm here is ``alignjax.models.vit.LayerNorm`` (float32 statistics). Drop path is
inference-only identity. Module names mirror torch (``stages.2.blocks.5.conv_dw`` ->
``stages_2/blocks_5/conv_dw``).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.layers import Conv
from alignjax.models.registry import register_architecture
from alignjax.models.vit import IMAGENET_MEAN, IMAGENET_STD, LayerNorm, Mlp


class ConvNeXtBlock(nn.Module):
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dim = x.shape[-1]
        shortcut = x
        x = Conv(
            dim, (7, 7), padding=((3, 3), (3, 3)), feature_group_count=dim, dtype=self.dtype, name="conv_dw"
        )(x)
        x = LayerNorm(dtype=self.dtype, name="norm")(x)
        x = Mlp(4 * dim, dtype=self.dtype, name="mlp")(x)
        gamma = self.param("gamma", nn.initializers.constant(1e-6), (dim,))
        return shortcut + x * gamma.astype(self.dtype).reshape(1, 1, 1, dim)


class Head(nn.Module):
    """timm ``NormMlpClassifierHead`` with average pooling and no hidden layer."""

    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
        x = LayerNorm(dtype=self.dtype, name="norm")(x)
        return nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(x)


class ConvNeXt(nn.Module):
    """timm ``ConvNeXt`` (patch-4 stem, channels-last blocks, layer scale, norm-then-fc head).

    Attributes:
      num_classes: classifier outputs.
      depths: blocks per stage.
      dims: channels per stage.
      mean, std: input normalisation applied inside the model (inputs in [0, 1]); ImageNet by default.
      dtype: compute dtype; parameters stay float32, LayerNorm statistics are float32.
    """

    num_classes: int = 1000
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train  # no dropout/drop path or batch statistics in inference-only ports
        mean = jnp.asarray(self.mean, jnp.float32).reshape(1, 1, 1, -1)
        std = jnp.asarray(self.std, jnp.float32).reshape(1, 1, 1, -1)
        x = ((x.astype(jnp.float32) - mean) / std).astype(self.dtype)
        x = Conv(self.dims[0], (4, 4), strides=(4, 4), padding="VALID", dtype=self.dtype, name="stem_0")(x)
        x = LayerNorm(dtype=self.dtype, name="stem_1")(x)
        for i, (depth, dim) in enumerate(zip(self.depths, self.dims, strict=True)):
            x = ConvNeXtStage(depth, dim, downsample=i > 0, dtype=self.dtype, name=f"stages_{i}")(x)
        return Head(self.num_classes, dtype=self.dtype, name="head")(x).astype(jnp.float32)


class ConvNeXtStage(nn.Module):
    """``stages.i``: optional ``downsample`` (LayerNorm2d, 2x2/2 conv) then ``blocks``."""

    depth: int
    dim: int
    downsample: bool
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.downsample:
            x = LayerNorm(dtype=self.dtype, name="downsample_0")(x)
            x = Conv(
                self.dim, (2, 2), strides=(2, 2), padding="VALID", dtype=self.dtype, name="downsample_1"
            )(x)
        for j in range(self.depth):
            x = ConvNeXtBlock(dtype=self.dtype, name=f"blocks_{j}")(x)
        return x


# name -> (depths, dims); timm's public configurations.
_VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "convnext_tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "convnext_small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "convnext_base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
}


def _register(name: str) -> None:
    depths, dims = _VARIANTS[name]

    def build(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> ConvNeXt:
        """Builds the variant; keyword options (depths, dims, mean, std) override the public sizes."""
        options: dict[str, Any] = {"depths": depths, "dims": dims}
        options.update(kwargs)
        return ConvNeXt(num_classes=num_classes, dtype=dtype, **options)

    build.__name__ = f"build_{name}"
    register_architecture(name)(build)


for _name in _VARIANTS:
    _register(_name)
