"""Layers shared by the model families.

``Conv`` is ``flax.linen.Conv`` with ``fast_conv_general_dilated`` (same maths, a backward pass that
stays fast inside XLA CPU loops; see fast_conv.py). Parameter names and shapes are nn.Conv's.
``pooled_logits`` is the average-pool-and-Dense end that most torchvision classifiers share.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.fast_conv import fast_conv_general_dilated

Conv = functools.partial(nn.Conv, conv_general_dilated=fast_conv_general_dilated)


def pooled_logits(features: jnp.ndarray, num_classes: int, dtype: Any, name: str = "fc") -> jnp.ndarray:
    """The torchvision classifier end: global average pool over (h, w), then ``nn.Dense`` named ``name``;
    float32 logits. Call it inside a compact ``__call__`` (the Dense becomes a submodule of that module)."""
    pooled = jnp.mean(features, axis=(1, 2))
    return nn.Dense(num_classes, dtype=dtype, name=name)(pooled).astype(jnp.float32)
