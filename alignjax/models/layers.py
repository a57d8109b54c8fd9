"""Layers shared by the model families.

``Conv`` is ``flax.linen.Conv`` with ``fast_conv_general_dilated`` (same maths, a backward pass that
stays fast inside XLA CPU loops; see fast_conv.py). Parameter names and shapes are nn.Conv's.
"""

from __future__ import annotations

import functools

import flax.linen as nn

from alignjax.models.fast_conv import fast_conv_general_dilated

Conv = functools.partial(nn.Conv, conv_general_dilated=fast_conv_general_dilated)
