"""MobileNet-V2/V3 beyond the full-size upstream comparison (``test_upstream.py``): logits and input
gradients of small torchvision MobileNets (torchvision's own classes) at even and odd input sizes, with
width multipliers and V3's reduced tail and dilation; ``make_divisible``; train-mode BatchNorm with V3's
eps and momentum; full-size output shapes and parameter counts of other widths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.mobilenet import block_config, make_divisible
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    count_parameters,
    flax_parameter_count,
    nchw,
    normalized,
    numpy_state_dict,
    randomize,
    torchvision_models,
)

# t=1 block, stride-2 blocks, a residual block; width 0.5 exercises the rounding to multiples of 8
_V2_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 1, 2))
_V2 = {"width_mult": 0.5, "num_classes": 10}
# no expansion (SE, ReLU, stride 2), expansion (ReLU, stride 2), residual (SE, hard swish, 5x5), stride 2
_V3_ROWS = (
    (16, 3, 16, 16, True, "RE", 2, 1),
    (16, 3, 64, 24, False, "RE", 2, 1),
    (24, 5, 72, 24, True, "HS", 1, 1),
    (24, 5, 96, 40, True, "HS", 2, 1),
)
_V3_WIDTH = 0.75


def small_v2():
    setting = [list(row) for row in _V2_SETTING]
    return torchvision_models().mobilenetv2.MobileNetV2(inverted_residual_setting=setting, **_V2)


def small_v3(**kwargs):
    module = torchvision_models().mobilenetv3
    setting = [module.InvertedResidualConfig(*row, width_mult=_V3_WIDTH) for row in _V3_ROWS]
    return module.MobileNetV3(setting, last_channel=48, num_classes=10, **kwargs)


def _v3_kwargs():
    setting = tuple(block_config(*row, width_mult=_V3_WIDTH) for row in _V3_ROWS)
    return {"inverted_residual_setting": setting, "last_channel": 48, "num_classes": 10}


def _input(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=(2, *shape, 3)).astype(np.float32)


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
def test_small_mobilenet_v2_logits_and_input_gradient_match_torchvision(shape):
    model, x = small_v2(), _input(shape)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "mobilenet_v2", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        inverted_residual_setting=_V2_SETTING, **_V2,
    )


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
def test_small_mobilenet_v3_logits_and_input_gradient_match_torchvision(shape):
    model, x = small_v3(), _input(shape)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "mobilenet_v3_large", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **_v3_kwargs()
    )


def test_mobilenet_v3_small_reduced_tail_dilated_matches_torchvision():
    """The whole ``mobilenet_v3_small`` table at width 0.5 with ``_mobilenet_v3_conf``'s ``reduced_tail``
    and ``dilated`` (the last stage's depthwise convs dilated 2, stride 1)."""
    options = {"width_mult": 0.5, "reduced_tail": True, "dilated": True, "num_classes": 10}
    model, x = torchvision_models().mobilenet_v3_small(**options), _input((64, 64))
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=3)
    compare_logits_and_input_gradient(
        "mobilenet_v3_small", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **options
    )


def test_make_divisible_equals_torchvision():
    _make_divisible = torchvision_models()._utils._make_divisible
    for divisor in (1, 4, 8):
        for value in np.linspace(0.5, 400.0, 797):
            value = float(value)
            assert make_divisible(value, divisor) == _make_divisible(value, divisor), (value, divisor)


def test_mobilenet_v3_train_mode_uses_batch_statistics_like_torch():
    """``train=True`` normalises with batch statistics (eps 1e-3) and updates the running means with
    torchvision's MobileNetV3 momentum 0.01 (dropout off on both sides)."""
    x = _input((32, 32), seed=1)
    model = randomize(small_v3(dropout=0.0), normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=4)
    kwargs = _v3_kwargs()
    module = build_architecture("mobilenet_v3_large", dropout=0.0, **kwargs)
    variables = check_against_module(
        module, get_converter("mobilenet_v3_large")(numpy_state_dict(model)), x.shape[1:]
    )
    got, updates = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=["batch_stats"]))(variables, x)
    model.train()
    with torch.no_grad():
        expected = model(nchw(normalized(x, IMAGENET_MEAN, IMAGENET_STD))).numpy()
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(updates["batch_stats"]["features_3"]["block_0_1"]["mean"]),
        model.features[3].block[0][1].running_mean.numpy(),
        atol=1e-6,
        rtol=1e-5,
    )


@pytest.mark.parametrize("arch", ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
def test_full_size_output_shape_in_bfloat16(arch):
    module = build_architecture(arch, num_classes=10, dtype=jnp.bfloat16)
    x = jnp.zeros((2, 224, 224, 3))
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], x)
    assert out.shape == (2, 10) and out.dtype == jnp.float32


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        ("mobilenet_v2", {"width_mult": 1.4}),
        ("mobilenet_v2", {"width_mult": 0.35}),
        ("mobilenet_v3_large", {"width_mult": 0.75}),
        ("mobilenet_v3_large", {"reduced_tail": True}),
    ],
)
def test_other_widths_have_torchvision_parameter_counts(arch, options):
    with torch.device("meta"):
        expected = count_parameters(getattr(torchvision_models(), arch)(**options))
    assert flax_parameter_count(build_architecture(arch, **options), (224, 224, 3)) == expected
