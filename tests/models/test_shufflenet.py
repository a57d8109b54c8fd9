"""ShuffleNet-V2 beyond the full-size upstream comparison (``test_upstream.py``): logits and input
gradients of small torchvision ShuffleNets (torchvision's own class) at even and odd input sizes,
``channel_shuffle`` against torchvision's, the stride-1 channel check, and full-size output shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.shufflenet import channel_shuffle
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    nchw,
    nhwc,
    normalized,
    randomize,
    torchvision_models,
)

# a stride-2 unit per stage, stride-1 units in stages 2 and 3
_SMALL = {"stages_repeats": (2, 3, 1), "stages_out_channels": (8, 16, 32, 48, 40), "num_classes": 10}


def small_torchvision():
    repeats, channels = (list(_SMALL[key]) for key in ("stages_repeats", "stages_out_channels"))
    shufflenetv2 = torchvision_models().shufflenetv2
    return shufflenetv2.ShuffleNetV2(repeats, channels, num_classes=_SMALL["num_classes"])


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
def test_small_shufflenet_logits_and_input_gradient_match_torchvision(shape):
    model = small_torchvision()
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "shufflenet_v2_x1_0", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **_SMALL
    )


@pytest.mark.parametrize("groups", [2, 3])
def test_channel_shuffle_equals_torchvision(groups):
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 12)).astype(np.float32)
    expected = nhwc(torchvision_models().shufflenetv2.channel_shuffle(nchw(x), groups))
    np.testing.assert_array_equal(np.asarray(channel_shuffle(jnp.asarray(x), groups)), expected)


def test_odd_stage_width_with_stride_one_units_is_refused_like_torchvision():
    """torchvision's stride-1 units take ``inp = oup``, which must be even (``oup // 2 << 1``)."""
    repeats, channels = (1, 2, 1), (8, 16, 31, 48, 40)
    module = build_architecture("shufflenet_v2_x1_0", stages_repeats=repeats, stages_out_channels=channels)
    message = "Invalid combination of stride 1, inp 31 and oup 31"
    with pytest.raises(ValueError, match=message):
        jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match=message), torch.device("meta"):
        torchvision_models().shufflenetv2.ShuffleNetV2(list(repeats), list(channels))


@pytest.mark.parametrize("arch", ["shufflenet_v2_x0_5", "shufflenet_v2_x2_0"])
def test_full_size_output_shape_in_bfloat16(arch):
    """x0.5 and x2.0 (the widest, with 2048 conv5 features; the others' shapes are checked by the parameter
    counts)."""
    module = build_architecture(arch, num_classes=10, dtype=jnp.bfloat16)
    x = jnp.zeros((2, 224, 224, 3))
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], x)
    assert out.shape == (2, 10) and out.dtype == jnp.float32
