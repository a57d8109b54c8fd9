"""Antialiased ResNets beyond the full-size upstream comparison (``test_upstream.py``): BlurPool against
antialiased-cnns' own, logits and input gradients of small antialiased-cnns ResNets (its own classes),
the converter's handling of the ``filt`` buffers, and full-size output shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.antialiased import blur_pool
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.families.antialiased import UPSTREAM
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    nchw,
    nhwc,
    normalized,
    numpy_state_dict,
    randomize,
)


def small_upstream(groups: int = 1, width_per_group: int = 64):
    import antialiased_cnns.resnet as upstream

    return upstream.ResNet(upstream.Bottleneck, [1, 1, 1, 1], num_classes=10, groups=groups,
                           width_per_group=width_per_group, filter_size=4)


@pytest.mark.parametrize("filter_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(9, 9), (8, 11)])
def test_blur_pool_equals_upstream(filter_size, shape):
    from antialiased_cnns import BlurPool

    x = np.random.default_rng(0).normal(size=(2, *shape, 3)).astype(np.float32)
    with torch.no_grad():
        expected = nhwc(BlurPool(3, filt_size=filter_size, stride=2)(nchw(x)))
    got = np.asarray(jax.jit(blur_pool, static_argnums=(1, 2))(x, filter_size, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("groups", "width_per_group", "shape"), [(1, 64, (64, 64)), (1, 64, (57, 70)), (32, 4, (64, 64))]
)
def test_small_antialiased_resnet_logits_and_input_gradient_match_upstream(groups, width_per_group, shape):
    model = small_upstream(groups, width_per_group)
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=4)
    compare_logits_and_input_gradient(
        "antialiased_resnet50", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        num_classes=10, stage_sizes=(1, 1, 1, 1), groups=groups, width_per_group=width_per_group,
    )


def test_converter_drops_the_4x4_filters_and_reports_others():
    state = numpy_state_dict(small_upstream())
    assert {"maxpool.1.filt", "layer2.0.conv3.0.filt", "layer2.0.downsample.0.filt"} <= set(state)
    flat = get_converter("antialiased_resnet50")(state)
    assert not any("filt" in name for name in flat)
    assert flat["params/layer2_0/conv3_1/kernel"].shape == (1, 1, 128, 512)
    assert flat["params/layer2_0/downsample_1/kernel"].shape == (1, 1, 256, 512)
    assert "batch_stats/layer2_0/downsample_2/var" in flat
    module = build_architecture("antialiased_resnet50", num_classes=10, stage_sizes=(1, 1, 1, 1))
    check_against_module(module, flat, (64, 64, 3))
    state["maxpool.1.filt"] = np.ones((64, 1, 3, 3), np.float32) / 9  # a filter_size=3 checkpoint
    with pytest.raises(CheckpointMismatchError, match="maxpool.1.filt"):
        check_against_module(module, get_converter("antialiased_resnet50")(state), (64, 64, 3))


@pytest.mark.parametrize("arch", sorted(UPSTREAM))
def test_full_size_output_shape(arch):
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 10) and out.dtype == jnp.float32
