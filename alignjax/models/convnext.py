"""ConvNeXt-T/S/B/L/XL/XXL with timm's ``ConvNeXt`` layout.

Liu et al. 2022, "A ConvNet for the 2020s"; the LAION CLIP image towers (``convnext_large_mlp``,
``convnext_xxlarge``) from Cherti et al. 2023, "Reproducible scaling laws for contrastive language-image
learning". The maths follows ``huggingface/pytorch-image-models`` ``timm/models/convnext.py`` (timm
1.0.31) for the ``convnext_{tiny,small,base,large,xlarge,large_mlp,xxlarge}`` configurations:

- stem: 4x4 stride-4 convolution then LayerNorm2d (``stem.0``, ``stem.1``);
- stage ``i > 0`` starts with ``downsample`` = LayerNorm2d then a 2x2 stride-2 convolution;
- block: depthwise 7x7 convolution (``conv_dw``), LayerNorm over channels (``norm``), Linear MLP with
  exact GELU (``mlp.fc1``, ``mlp.fc2``), layer scale ``gamma``, residual add;
- head (``NormMlpClassifierHead``): global average pool, LayerNorm (``head.norm``), for
  ``convnext_large_mlp`` (``head_hidden_size=1536``) a hidden Linear ``head.pre_logits.fc`` with exact
  GELU (timm's ConvNeXt passes ``act_layer='gelu'`` to the head), then ``head.fc``.

All LayerNorms use eps 1e-6, except ``convnext_xxlarge`` (timm ``norm_eps=1e-5``, every norm including
the stem, downsample and head ones; its head is the same pool-norm-fc). In NHWC, timm's LayerNorm2d (channels of NCHW) is a LayerNorm over the last
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
from alignjax.models.vit import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAYER_NORM_EPS,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    LayerNorm,
    Mlp,
    gelu,
)


class ConvNeXtBlock(nn.Module):
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dim = x.shape[-1]
        shortcut = x
        x = Conv(
            dim, (7, 7), padding=((3, 3), (3, 3)), feature_group_count=dim, dtype=self.dtype, name="conv_dw"
        )(x)
        x = LayerNorm(self.epsilon, dtype=self.dtype, name="norm")(x)
        x = Mlp(4 * dim, dtype=self.dtype, name="mlp")(x)
        gamma = self.param("gamma", nn.initializers.constant(1e-6), (dim,))
        return shortcut + x * gamma.astype(self.dtype).reshape(1, 1, 1, dim)


class Head(nn.Module):
    """timm ``NormMlpClassifierHead`` with average pooling; a GELU hidden layer if ``hidden_size``."""

    num_classes: int
    hidden_size: int | None = None
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
        x = LayerNorm(self.epsilon, dtype=self.dtype, name="norm")(x)
        if self.hidden_size:
            x = gelu(PreLogits(self.hidden_size, dtype=self.dtype, name="pre_logits")(x))
        return nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(x)


class PreLogits(nn.Module):
    """``head.pre_logits``: its one Linear ``fc`` (the activation ``act`` has no parameters)."""

    hidden_size: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(self.hidden_size, dtype=self.dtype, name="fc")(x)


class ConvNeXt(nn.Module):
    """timm ``ConvNeXt`` (patch-4 stem, channels-last blocks, layer scale, norm-then-fc head).

    Attributes:
      num_classes: classifier outputs.
      depths: blocks per stage.
      dims: channels per stage.
      head_hidden_size: width of the head's hidden ``pre_logits.fc`` layer; None for none.
      layer_norm_eps: eps of every LayerNorm.
      mean, std: input normalisation applied inside the model (inputs in [0, 1]); ImageNet by default.
      dtype: compute dtype; parameters stay float32, LayerNorm statistics are float32.
    """

    num_classes: int = 1000
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    head_hidden_size: int | None = None
    layer_norm_eps: float = LAYER_NORM_EPS
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
        eps = self.layer_norm_eps
        x = LayerNorm(eps, dtype=self.dtype, name="stem_1")(x)
        for i, (depth, dim) in enumerate(zip(self.depths, self.dims, strict=True)):
            x = ConvNeXtStage(depth, dim, downsample=i > 0, epsilon=eps, dtype=self.dtype, name=f"stages_{i}")(x)
        head = Head(self.num_classes, self.head_hidden_size, eps, dtype=self.dtype, name="head")
        return head(x).astype(jnp.float32)


class ConvNeXtStage(nn.Module):
    """``stages.i``: optional ``downsample`` (LayerNorm2d, 2x2/2 conv) then ``blocks``."""

    depth: int
    dim: int
    downsample: bool
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.downsample:
            x = LayerNorm(self.epsilon, dtype=self.dtype, name="downsample_0")(x)
            x = Conv(
                self.dim, (2, 2), strides=(2, 2), padding="VALID", dtype=self.dtype, name="downsample_1"
            )(x)
        for j in range(self.depth):
            x = ConvNeXtBlock(self.epsilon, dtype=self.dtype, name=f"blocks_{j}")(x)
        return x


_L = {"depths": (3, 3, 27, 3), "dims": (192, 384, 768, 1536)}
_OPENAI = {"mean": OPENAI_CLIP_MEAN, "std": OPENAI_CLIP_STD}

# name -> builder defaults of timm's public configurations; mean/std those of timm's default pretrained
# tag (the CLIP towers' fine-tunes use OpenAI's CLIP statistics).
_VARIANTS: dict[str, dict[str, Any]] = {
    "convnext_tiny": {"depths": (3, 3, 9, 3), "dims": (96, 192, 384, 768)},
    "convnext_small": {"depths": (3, 3, 27, 3), "dims": (96, 192, 384, 768)},
    "convnext_base": {"depths": (3, 3, 27, 3), "dims": (128, 256, 512, 1024)},
    "convnext_large": _L,
    "convnext_xlarge": {"depths": (3, 3, 27, 3), "dims": (256, 512, 1024, 2048)},
    "convnext_large_mlp": {**_L, "head_hidden_size": 1536, **_OPENAI},
    "convnext_xxlarge": {"depths": (3, 4, 30, 3), "dims": (384, 768, 1536, 3072), "layer_norm_eps": 1e-5, **_OPENAI},
}


def _register(name: str) -> None:
    defaults = _VARIANTS[name]

    def build(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> ConvNeXt:
        """Builds the variant; keyword options (depths, dims, head_hidden_size, mean, std) override."""
        return ConvNeXt(num_classes=num_classes, dtype=dtype, **{**defaults, **kwargs})

    build.__name__ = f"build_{name}"
    register_architecture(name)(build)


for _name in _VARIANTS:
    _register(_name)
