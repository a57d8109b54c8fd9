"""Swin Transformers (Swin-T/S/B/L) with timm's ``SwinTransformer`` layout.

Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows". The maths
follows ``huggingface/pytorch-image-models`` ``timm/models/swin_transformer.py`` (timm 1.0.31:
``SwinTransformer``, ``SwinTransformerStage``, ``SwinTransformerBlock``, ``WindowAttention``,
``PatchMerging``) with the defaults of its ``swin_*_patch4_window*`` configurations, NHWC throughout as
timm 1.0 is:

- ``patch_embed``: ``patch_size`` x ``patch_size`` stride-``patch_size`` convolution (``proj``) then
  LayerNorm (``norm``);
- stage ``i > 0`` starts with ``downsample`` (``PatchMerging``): zero-pad odd sides, concatenate each 2x2
  neighbourhood's channels in timm's order ``(0, 0), (1, 0), (0, 1), (1, 1)`` (row, column offsets;
  the Microsoft release's ``x0, x1, x2, x3``), LayerNorm over the 4C channels (``norm``), bias-free
  linear to 2C (``reduction``);
- block ``j`` of a stage: ``x + attn(norm1(x))`` in windows, then ``x + mlp(norm2(x))``; odd blocks
  roll the map by ``-(window // 2)`` first and back after, with timm's -100 attention mask between
  the regions the roll brought together. A window is clamped to the stage's resolution and the shift
  dropped where the resolution is no larger than the window (Swin-T's last stage at 224 px); sides that
  are no multiple of the window are zero-padded after the roll and cropped after attention;
- ``WindowAttention``: fused ``qkv`` (output axis ordered (3, heads, head_dim)), scale
  ``head_dim ** -0.5``, a learned ``relative_position_bias_table`` ((2Wh-1)(2Ww-1), heads) indexed by
  the fixed ``relative_position_index``, which is computed here in numpy and is not a variable;
- head: LayerNorm ``norm``, global average pool, ``head.fc``.

Every LayerNorm is torch's ``nn.LayerNorm`` default, eps 1e-5 (``alignjax.models.vit.LayerNorm``,
float32 statistics); the MLP is ``alignjax.models.vit.Mlp`` (exact GELU). Module names mirror torch
(``layers.0.blocks.1.attn.qkv`` -> ``layers_0/blocks_1/attn/qkv``), so the key map
``alignjax.weights.keymaps.swin`` only renames and transposes.

Deliberate deviations: none in the forward pass (timm's unfused attention path, its default; dropout
and drop path are inference identities). As timm (``strict_img_size=True``, ``fixed_input_size``), an
input whose size differs from ``img_size`` is rejected: masks and window clamps depend on it.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from alignjax.models.layers import Conv
from alignjax.models.registry import register_architecture
from alignjax.models.vit import IMAGENET_MEAN, IMAGENET_STD, LayerNorm, Mlp

LAYER_NORM_EPS = 1e-5  # torch nn.LayerNorm's default, which timm's Swin uses everywhere
MASK_VALUE = -100.0  # timm's (and the Microsoft release's) value between regions a shift joined


@functools.cache
def relative_position_index(window: tuple[int, int]) -> np.ndarray:
    """timm ``get_relative_position_index``: (N, N) int32 indices into the bias table, N = Wh * Ww."""
    win_h, win_w = window
    coords = np.stack(np.meshgrid(np.arange(win_h), np.arange(win_w), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)  # (N, N, 2)
    relative[:, :, 0] += win_h - 1
    relative[:, :, 1] += win_w - 1
    relative[:, :, 0] *= 2 * win_w - 1
    return relative.sum(-1).astype(np.int32)


def _partition(x: jax.Array, window: tuple[int, int]) -> jax.Array:
    """(B, H, W, C) -> (B, windows, Wh * Ww, C), windows row-major as timm ``window_partition``."""
    batch, height, width, channels = x.shape
    win_h, win_w = window
    x = x.reshape(batch, height // win_h, win_h, width // win_w, win_w, channels)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(batch, -1, win_h * win_w, channels)


def _reverse(windows: jax.Array, window: tuple[int, int], height: int, width: int) -> jax.Array:
    """Inverse of ``_partition`` (timm ``window_reverse``)."""
    batch, _, _, channels = windows.shape
    win_h, win_w = window
    x = windows.reshape(batch, height // win_h, width // win_w, win_h, win_w, channels)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(batch, height, width, channels)


@functools.cache
def attention_mask(padded: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    """timm ``SwinTransformerBlock.get_attn_mask``: (windows, N, N) float32, 0 within a region, -100 across.

    ``padded`` is the rolled map's size after padding to a multiple of the window.
    """
    regions = np.zeros(padded, np.float32)
    count = 0
    for h in ((0, -window[0]), (-window[0], -shift[0]), (-shift[0], None)):
        for w in ((0, -window[1]), (-window[1], -shift[1]), (-shift[1], None)):
            regions[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    labels = _partition(regions[None, :, :, None], window)[0, :, :, 0]  # numpy in, numpy out
    difference = labels[:, None, :] - labels[:, :, None]
    return np.where(difference != 0, MASK_VALUE, 0.0).astype(np.float32)


def window_and_shift(
    resolution: tuple[int, int], window: int
) -> tuple[tuple[int, int], tuple[int, int], bool]:
    """timm ``_calc_window_shift`` for an odd block: the window clamped to the resolution, and its shift
    (``window // 2``, zero on a side no larger than the window); also whether any side shifts."""
    windows = tuple(min(side, window) for side in resolution)
    shifts = tuple(0 if side <= window else window // 2 for side in resolution)
    return windows, shifts, any(shifts)


class WindowAttention(nn.Module):
    """timm ``WindowAttention``: multi-head self-attention within windows plus relative position bias."""

    num_heads: int
    window: tuple[int, int]
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray | None) -> jax.Array:
        """x: (B, windows, N, C); mask: (windows, N, N) or None. Returns (B, windows, N, C)."""
        batch, windows, tokens, dim = x.shape
        head_dim = dim // self.num_heads
        table_size = (2 * self.window[0] - 1) * (2 * self.window[1] - 1)
        init = nn.initializers.truncated_normal(0.02)
        table = self.param("relative_position_bias_table", init, (table_size, self.num_heads))
        index = relative_position_index(self.window)
        bias = table[index.reshape(-1)].reshape(tokens, tokens, self.num_heads).transpose(2, 0, 1)

        qkv = nn.Dense(3 * dim, dtype=self.dtype, name="qkv")(x)
        qkv = qkv.reshape(batch, windows, tokens, 3, self.num_heads, head_dim)
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]  # (b, w, n, h, d) each
        q = q * head_dim**-0.5
        logits = jnp.einsum("bwqhd,bwkhd->bwhqk", q, k).astype(jnp.float32)
        logits = logits + bias[None, None].astype(jnp.float32)
        if mask is not None:
            logits = logits + jnp.asarray(mask)[None, :, None]
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum("bwhqk,bwkhd->bwqhd", weights, v).reshape(batch, windows, tokens, dim)
        return nn.Dense(dim, dtype=self.dtype, name="proj")(out)


class SwinBlock(nn.Module):
    """timm ``SwinTransformerBlock`` on a (B, H, W, C) map; ``shifted`` for the odd blocks of a stage."""

    num_heads: int
    window_size: int
    shifted: bool
    mlp_ratio: float = 4.0
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, height, width, dim = x.shape
        window, shift, has_shift = window_and_shift((height, width), self.window_size)
        has_shift = self.shifted and has_shift
        y = LayerNorm(self.epsilon, dtype=self.dtype, name="norm1")(x)
        if has_shift:
            y = jnp.roll(y, (-shift[0], -shift[1]), axis=(1, 2))
        pad_h, pad_w = (-height) % window[0], (-width) % window[1]
        y = jnp.pad(y, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
        padded = (height + pad_h, width + pad_w)
        mask = attention_mask(padded, window, shift) if has_shift else None
        attention = WindowAttention(self.num_heads, window, dtype=self.dtype, name="attn")
        y = attention(_partition(y, window), mask)
        y = _reverse(y, window, *padded)[:, :height, :width]
        if has_shift:
            y = jnp.roll(y, shift, axis=(1, 2))
        x = x + y
        y = LayerNorm(self.epsilon, dtype=self.dtype, name="norm2")(x)
        return x + Mlp(int(dim * self.mlp_ratio), dtype=self.dtype, name="mlp")(y)


class PatchMerging(nn.Module):
    """timm ``PatchMerging``: 2x2 neighbourhoods -> 4C channels -> LayerNorm -> bias-free linear."""

    out_dim: int
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, height, width, channels = x.shape
        x = jnp.pad(x, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
        height, width = height + height % 2, width + width % 2
        # (b, h/2, row offset, w/2, column offset, c) -> column offset before row offset, as timm's permute
        x = x.reshape(batch, height // 2, 2, width // 2, 2, channels).transpose(0, 1, 3, 4, 2, 5)
        x = x.reshape(batch, height // 2, width // 2, 4 * channels)
        x = LayerNorm(self.epsilon, dtype=self.dtype, name="norm")(x)
        return nn.Dense(self.out_dim, use_bias=False, dtype=self.dtype, name="reduction")(x)


class SwinStage(nn.Module):
    """timm ``SwinTransformerStage`` (``layers.i``): optional ``downsample`` then ``blocks``."""

    depth: int
    dim: int
    num_heads: int
    window_size: int
    downsample: bool
    mlp_ratio: float = 4.0
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.downsample:
            x = PatchMerging(self.dim, self.epsilon, dtype=self.dtype, name="downsample")(x)
        for j in range(self.depth):
            x = SwinBlock(
                self.num_heads, self.window_size, shifted=j % 2 == 1, mlp_ratio=self.mlp_ratio,
                epsilon=self.epsilon, dtype=self.dtype, name=f"blocks_{j}",
            )(x)
        return x


class PatchEmbed(nn.Module):
    """timm ``PatchEmbed`` with ``norm_layer``, NHWC output: convolution ``proj`` then LayerNorm ``norm``."""

    patch_size: int
    embed_dim: int
    epsilon: float = LAYER_NORM_EPS
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        p = self.patch_size
        x = Conv(self.embed_dim, (p, p), strides=(p, p), padding="VALID", dtype=self.dtype, name="proj")(x)
        return LayerNorm(self.epsilon, dtype=self.dtype, name="norm")(x)


class ClassifierHead(nn.Module):
    """timm ``ClassifierHead`` (average pool over H, W in float32, then ``fc``)."""

    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.mean(x.astype(jnp.float32), axis=(1, 2)).astype(self.dtype)
        return nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(x)


class SwinTransformer(nn.Module):
    """timm ``SwinTransformer`` with ``global_pool="avg"`` (no absolute position embedding, as in timm).

    Attributes:
      num_classes: classifier outputs.
      img_size: square input size (timm ``strict_img_size``; other sizes are rejected).
      patch_size: patch side in pixels.
      embed_dim: channels of the first stage; stage ``i`` has ``embed_dim * 2**i``.
      depths: blocks per stage.
      num_heads: attention heads per stage.
      window_size: attention window side (clamped per stage to the stage's resolution).
      mlp_ratio: MLP hidden width over channels.
      layer_norm_eps: eps of every LayerNorm.
      mean, std: input normalisation applied inside the model (inputs in [0, 1]).
      dtype: compute dtype; parameters stay float32, LayerNorm statistics and softmax are float32.
    """

    num_classes: int = 1000
    img_size: int = 224
    patch_size: int = 4
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = 7
    mlp_ratio: float = 4.0
    layer_norm_eps: float = LAYER_NORM_EPS
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train  # no dropout/drop path in inference-only ports
        _, height, width, _ = x.shape
        if (height, width) != (self.img_size, self.img_size):
            raise ValueError(
                f"input is {height}x{width} but this Swin was built for {self.img_size}x{self.img_size}; "
                "its windows and masks depend on the size (timm strict_img_size): resize the input or build "
                "with img_size="
            )
        mean = jnp.asarray(self.mean, jnp.float32).reshape(1, 1, 1, -1)
        std = jnp.asarray(self.std, jnp.float32).reshape(1, 1, 1, -1)
        x = ((x.astype(jnp.float32) - mean) / std).astype(self.dtype)
        eps = self.layer_norm_eps
        x = PatchEmbed(self.patch_size, self.embed_dim, eps, dtype=self.dtype, name="patch_embed")(x)
        for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads, strict=True)):
            x = SwinStage(
                depth, self.embed_dim * 2**i, heads, self.window_size, downsample=i > 0,
                mlp_ratio=self.mlp_ratio, epsilon=eps, dtype=self.dtype, name=f"layers_{i}",
            )(x)
        x = LayerNorm(eps, dtype=self.dtype, name="norm")(x)
        return ClassifierHead(self.num_classes, dtype=self.dtype, name="head")(x).astype(jnp.float32)


# name -> builder defaults of timm 1.0.31's configurations (all patch 4; ImageNet mean/std, as every
# pretrained tag of them in timm's default_cfgs)
_T = {"embed_dim": 96, "num_heads": (3, 6, 12, 24)}
_B = {"embed_dim": 128, "num_heads": (4, 8, 16, 32)}
_L = {"embed_dim": 192, "num_heads": (6, 12, 24, 48)}
_DEEP = {"depths": (2, 2, 18, 2)}
_VARIANTS: dict[str, dict[str, Any]] = {
    "swin_tiny_patch4_window7_224": {**_T, "depths": (2, 2, 6, 2)},
    "swin_small_patch4_window7_224": {**_T, **_DEEP},
    "swin_base_patch4_window7_224": {**_B, **_DEEP},
    "swin_base_patch4_window12_384": {**_B, **_DEEP, "window_size": 12, "img_size": 384},
    "swin_large_patch4_window7_224": {**_L, **_DEEP},
}


def _register(name: str) -> None:
    defaults = _VARIANTS[name]

    def build(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> SwinTransformer:
        """Builds the variant; keyword options (img_size, embed_dim, depths, num_heads, ...) override."""
        return SwinTransformer(num_classes=num_classes, dtype=dtype, **{**defaults, **kwargs})

    build.__name__ = f"build_{name}"
    size = defaults.get("img_size", 224)
    register_architecture(name, input_shape=None if size == 224 else (size, size, 3))(build)


for _name in _VARIANTS:
    _register(_name)
