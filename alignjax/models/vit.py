"""Vision Transformers with timm's ``VisionTransformer`` layout: ViT-S/B/L, DeiT and CLIP-pretrained ViTs.

Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"; Touvron et al. 2021, "Training data-efficient
image transformers & distillation through attention" (DeiT); Radford et al. 2021, "Learning Transferable
Visual Models From Natural Language Supervision" (CLIP) and Cherti et al. 2023, "Reproducible scaling laws
for contrastive language-image learning" (OpenCLIP / LAION-2B) for the ``*_clip_*`` image towers that timm
fine-tunes on ImageNet. The maths follows
``huggingface/pytorch-image-models`` ``timm/models/vision_transformer.py`` (``VisionTransformer``,
``Block``, ``Attention``, ``Mlp``) and ``timm/models/deit.py`` (``VisionTransformerDistilled``), timm 1.0.31 (the installed wheel; first
written against the 1.0 series without network access), with the defaults those checkpoints use: a
class token in front of the patch tokens, learned position embeddings added to all tokens, pre-norm
blocks, LayerNorm eps 1e-6, exact (erf) GELU, attention scale ``head_dim ** -0.5``, no layer scale,
class-token pooling. The CLIP variants (timm 1.0.31 ``vit_*_clip_*``: ``pre_norm=True``, LayerNorm eps
1e-5) differ only in a LayerNorm ``norm_pre`` after the position embeddings, a patch embedding without
bias, and the eps; they keep the final ``norm`` on all tokens before the class-token head, and the timm
``openai_*``/``laion2b_*`` fine-tunes use exact GELU (only ``*_quickgelu`` names, not ported, use QuickGELU).

Submodule names mirror the torch names (``blocks.3.attn.qkv`` -> ``blocks_3/attn/qkv``) so that the
converter in ``alignjax.weights.keymaps.timm_vit`` only renames and transposes. The fused ``qkv``
projection is kept fused: its output axis is ordered (3, heads, head_dim) exactly as in timm.

Deliberate deviations: none in the forward pass; position embeddings are not interpolated, so an
input whose size differs from ``img_size`` is rejected with a clear error.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.layers import Conv
from alignjax.models.registry import register_architecture

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

LAYER_NORM_EPS = 1e-6


def gelu(x: jax.Array) -> jax.Array:
    """torch ``nn.GELU()`` default: the exact erf form, not the tanh approximation."""
    return nn.gelu(x, approximate=False)


class LayerNorm(nn.Module):
    """torch ``nn.LayerNorm`` over the last axis, computed in float32 whatever the compute dtype.

    Two-pass (biased) variance as torch does; parameters ``scale``/``bias`` as in ``flax.linen``. Flax's
    own LayerNorm mixes bfloat16 and float32 internally, which strict dtype promotion rejects.
    """

    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (features,))
        bias = self.param("bias", nn.initializers.zeros, (features,))
        x = x.astype(jnp.float32)
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        var = jnp.mean(jnp.square(centred), axis=-1, keepdims=True)
        y = centred * jax.lax.rsqrt(var + self.epsilon)
        shape = (1,) * (x.ndim - 1) + (features,)
        return (y * scale.reshape(shape) + bias.reshape(shape)).astype(self.dtype)


class Mlp(nn.Module):
    hidden_dim: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out_dim = x.shape[-1]
        x = gelu(nn.Dense(self.hidden_dim, dtype=self.dtype, name="fc1")(x))
        return nn.Dense(out_dim, dtype=self.dtype, name="fc2")(x)


class Attention(nn.Module):
    """Multi-head self-attention with timm's fused ``qkv`` and ``proj`` linears."""

    num_heads: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, tokens, dim = x.shape
        head_dim = dim // self.num_heads
        qkv = nn.Dense(3 * dim, dtype=self.dtype, name="qkv")(x)
        qkv = qkv.reshape(batch, tokens, 3, self.num_heads, head_dim)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (b, n, h, d) each
        q = q * head_dim**-0.5
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k)
        weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(self.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, tokens, dim)
        return nn.Dense(dim, dtype=self.dtype, name="proj")(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    num_heads: int
    mlp_ratio: float = 4.0
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dim = x.shape[-1]
        y = LayerNorm(self.epsilon, dtype=self.dtype, name="norm1")(x)
        x = x + Attention(self.num_heads, dtype=self.dtype, name="attn")(y)
        y = LayerNorm(self.epsilon, dtype=self.dtype, name="norm2")(x)
        return x + Mlp(int(dim * self.mlp_ratio), dtype=self.dtype, name="mlp")(y)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` convolution (timm ``patch_embed.proj``) flattened to tokens."""

    patch_size: int
    embed_dim: int
    use_bias: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        p = self.patch_size
        x = Conv(
            self.embed_dim, (p, p), strides=(p, p), padding="VALID", use_bias=self.use_bias, dtype=self.dtype,
            name="proj",
        )(x)
        return x.reshape(x.shape[0], -1, self.embed_dim)  # row-major over (h, w), as torch flatten(2)


class VisionTransformer(nn.Module):
    """timm ``VisionTransformer`` (and ``VisionTransformerDistilled`` with ``distilled=True``).

    Attributes:
      num_classes: classifier outputs.
      img_size: square input size the position embeddings were trained for.
      patch_size: patch side in pixels.
      embed_dim, depth, num_heads, mlp_ratio: transformer size.
      distilled: DeiT distillation variant; adds ``dist_token`` and ``head_dist`` and returns the mean
        of both heads' logits, as timm does at inference.
      pre_norm: CLIP-style LayerNorm ``norm_pre`` before the blocks (the patch embedding then has no bias).
      layer_norm_eps: eps of every LayerNorm (timm: 1e-6, CLIP towers 1e-5).
      mean, std: input normalisation applied inside the model (inputs are in [0, 1]).
      dtype: compute dtype; parameters stay float32, softmax runs in float32.
    """

    num_classes: int = 1000
    img_size: int = 224
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    distilled: bool = False
    pre_norm: bool = False
    layer_norm_eps: float = LAYER_NORM_EPS
    mean: tuple[float, ...] = INCEPTION_MEAN
    std: tuple[float, ...] = INCEPTION_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train  # no dropout or batch statistics in inference-only ports
        _, height, width, _ = x.shape
        if (height, width) != (self.img_size, self.img_size):
            raise ValueError(
                f"input is {height}x{width} but this ViT was built for {self.img_size}x{self.img_size}; "
                "position embeddings are not interpolated: resize the input or build with img_size="
            )
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")
        num_patches = (self.img_size // self.patch_size) ** 2
        num_prefix = 2 if self.distilled else 1

        mean = jnp.asarray(self.mean, jnp.float32).reshape(1, 1, 1, -1)
        std = jnp.asarray(self.std, jnp.float32).reshape(1, 1, 1, -1)
        x = (x.astype(jnp.float32) - mean) / std
        x = PatchEmbed(
            self.patch_size, self.embed_dim, use_bias=not self.pre_norm, dtype=self.dtype, name="patch_embed"
        )(x.astype(self.dtype))
        batch = x.shape[0]
        zeros = nn.initializers.zeros
        normal = nn.initializers.normal(0.02)
        prefix = [self.param("cls_token", zeros, (1, 1, self.embed_dim))]
        if self.distilled:
            prefix.append(self.param("dist_token", zeros, (1, 1, self.embed_dim)))
        prefix = [jnp.broadcast_to(t.astype(self.dtype), (batch, 1, self.embed_dim)) for t in prefix]
        pos_embed = self.param("pos_embed", normal, (1, num_patches + num_prefix, self.embed_dim))
        x = jnp.concatenate([*prefix, x], axis=1) + pos_embed.astype(self.dtype)
        eps = self.layer_norm_eps
        if self.pre_norm:
            x = LayerNorm(eps, dtype=self.dtype, name="norm_pre")(x)

        for i in range(self.depth):
            x = Block(self.num_heads, self.mlp_ratio, eps, dtype=self.dtype, name=f"blocks_{i}")(x)
        x = LayerNorm(eps, dtype=self.dtype, name="norm")(x)

        logits = nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x[:, 0])
        if self.distilled:
            logits_dist = nn.Dense(self.num_classes, dtype=self.dtype, name="head_dist")(x[:, 1])
            logits = (logits + logits_dist) / 2
        return logits.astype(jnp.float32)


OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_INCEPTION = {"mean": INCEPTION_MEAN, "std": INCEPTION_STD}
_IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
_OPENAI = {"mean": OPENAI_CLIP_MEAN, "std": OPENAI_CLIP_STD}
_CLIP = {"pre_norm": True, "layer_norm_eps": 1e-5}
_B = {"embed_dim": 768, "depth": 12, "num_heads": 12}
_L = {"embed_dim": 1024, "depth": 24, "num_heads": 16}
_H = {"embed_dim": 1280, "depth": 32, "num_heads": 16}

# name -> builder defaults of timm's public configurations; mean/std are those of timm's default
# pretrained tag (another tag of the same architecture may differ: the CLIP ViT-L/14 laion2b tags use
# 0.5/0.5, the openai ones OpenAI's CLIP statistics); img_size is the default tag's input size.
_VARIANTS: dict[str, dict[str, Any]] = {
    "vit_small_patch16_224": {"embed_dim": 384, "depth": 12, "num_heads": 6, **_INCEPTION},
    "vit_base_patch16_224": {**_B, **_INCEPTION},
    "vit_base_patch32_224": {**_B, "patch_size": 32, **_INCEPTION},
    "vit_base_patch16_384": {**_B, "img_size": 384, **_INCEPTION},
    "vit_large_patch16_224": {**_L, **_INCEPTION},
    "vit_large_patch16_384": {**_L, "img_size": 384, **_INCEPTION},
    "vit_large_patch32_384": {**_L, "img_size": 384, "patch_size": 32, **_INCEPTION},
    "deit_tiny_patch16_224": {"embed_dim": 192, "depth": 12, "num_heads": 3, **_IMAGENET},
    "deit_small_patch16_224": {"embed_dim": 384, "depth": 12, "num_heads": 6, **_IMAGENET},
    "deit_base_patch16_224": {**_B, **_IMAGENET},
    "deit_base_distilled_patch16_224": {**_B, "distilled": True, **_IMAGENET},
    "vit_base_patch16_clip_224": {**_B, **_CLIP, **_OPENAI},
    "vit_base_patch32_clip_224": {**_B, "patch_size": 32, **_CLIP, **_OPENAI},
    "vit_large_patch14_clip_224": {**_L, "patch_size": 14, **_CLIP, **_INCEPTION},
    "vit_large_patch14_clip_336": {**_L, "patch_size": 14, "img_size": 336, **_CLIP, **_INCEPTION},
    "vit_huge_patch14_clip_224": {**_H, "patch_size": 14, **_CLIP, **_OPENAI},
}


def _register(name: str) -> None:
    defaults = _VARIANTS[name]

    def build(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> VisionTransformer:
        """Builds the variant; keyword options (img_size, patch_size, embed_dim, depth, ...) override."""
        return VisionTransformer(num_classes=num_classes, dtype=dtype, **{**defaults, **kwargs})

    build.__name__ = f"build_{name}"
    size = defaults.get("img_size", 224)
    register_architecture(name, input_shape=None if size == 224 else (size, size, 3))(build)


for _name in _VARIANTS:
    _register(_name)
