"""ResNeXt beyond the full-size upstream comparison (``test_upstream.py``): logits and input gradients
of small torchvision ResNeXts (torchvision's own ``ResNet`` class, one block per stage, grouped 3x3
convs), the grouped convolution of ``fast_conv`` against ``lax``, and full-size output shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from alignjax.models import build_architecture
from alignjax.models.fast_conv import fast_conv_general_dilated
from tests.models.families.resnext import UPSTREAM
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    normalized,
    randomize,
    torchvision_models,
)


@pytest.mark.parametrize(
    ("groups", "width_per_group", "shape"),
    [(32, 4, (32, 32)), (32, 4, (40, 52)), (8, 16, (32, 32))],
)
def test_small_resnext_logits_and_input_gradient_match_torchvision(groups, width_per_group, shape):
    resnet = torchvision_models().resnet
    model = resnet.ResNet(
        resnet.Bottleneck, [1, 1, 1, 1], num_classes=10, groups=groups, width_per_group=width_per_group
    )
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=3)
    compare_logits_and_input_gradient(
        "resnext50_32x4d", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        num_classes=10, stage_sizes=(1, 1, 1, 1), groups=groups, width_per_group=width_per_group,
    )


@pytest.mark.parametrize("stride", [1, 2])
def test_grouped_convolution_values_and_gradients_equal_lax(stride):
    """ResNeXt's 3x3 (32 groups of 4 features): ``fast_conv`` keeps XLA's grouped convolution (no CPU
    patch or depthwise form applies) and its custom backward pass gives lax's gradients."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 9, 10, 128)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 4, 128)) / 6.0, jnp.float32)
    kwargs = {"window_strides": (stride, stride), "padding": ((1, 1), (1, 1)),
              "dimension_numbers": ("NHWC", "HWIO", "NHWC"), "feature_group_count": 32}
    out_shape = jax.eval_shape(lambda a, b: lax.conv_general_dilated(a, b, **kwargs), x, k).shape
    weights = jnp.asarray(rng.normal(size=out_shape), jnp.float32)

    def loss(conv):
        return lambda a, b: jnp.sum(conv(a, b, **kwargs) * weights)

    with jax.default_matmul_precision("highest"):
        ours = jax.jit(jax.value_and_grad(loss(fast_conv_general_dilated), argnums=(0, 1)))(x, k)
        theirs = jax.jit(jax.value_and_grad(loss(lax.conv_general_dilated), argnums=(0, 1)))(x, k)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-4)
    text = jax.jit(jax.grad(loss(fast_conv_general_dilated))).lower(x, k).as_text()
    assert "feature_group_count = 32" in text


@pytest.mark.parametrize("arch", sorted(UPSTREAM))
def test_full_size_output_shape(arch):
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 10) and out.dtype == jnp.float32
