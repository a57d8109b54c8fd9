"""RegNet beyond the full-size upstream comparison (``test_upstream.py``): the stage settings against
torchvision's ``BlockParams`` (every constructor, and seeded random designs), logits and input gradients
of small torchvision RegNetX / RegNetY models (torchvision's own ``RegNet`` class), an odd input size, a
bfloat16 forward pass, and every variant's full-size output shape and parameter count against
torchvision's published ``num_params``."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.models.regnet import REGNETS, block_params
from tests.models.families.regnet import SMALL
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    flax_logits,
    normalized,
    randomize,
    torchvision_models,
)
from tests.models.random_variables import random_variables

# four stages of widths 8, 16, 24, 40 with depths 1, 1, 2, 2 (identity blocks in the last two), stem 8
_DESIGN = {"depth": 6, "w_0": 8, "w_a": 8.0, "w_m": 1.5, "group_width": 8}


def _fields(params) -> tuple:
    return (
        list(params.depths), list(params.widths), list(params.group_widths),
        list(params.bottleneck_multipliers), list(params.strides), params.se_ratio,
    )


@pytest.mark.parametrize("arch", REGNETS)
def test_block_params_equal_torchvision_constructors(arch, monkeypatch):
    """The settings each torchvision constructor computes (its ``_regnet`` intercepted) equal ours."""
    regnet = torchvision_models().regnet
    monkeypatch.setattr(regnet, "_regnet", lambda params, weights, progress, **kwargs: params)
    expected = getattr(regnet, arch)()
    module = build_architecture(arch)
    assert _fields(module.block_params) == _fields(expected)


def _near_rounding_tie(depth: int, w_0: int, w_a: float, w_m: float) -> bool:
    """Whether a block's capacity or quantised width is a rounding tie up to float32 precision, where
    torch's float32 ``log``/``pow`` (within 1 ulp, not correctly rounded) may round either way."""
    capacity = np.log((np.arange(depth) * w_a + w_0) / w_0) / math.log(w_m)
    quantised = w_0 * np.power(w_m, np.round(capacity)) / 8
    values = np.concatenate([capacity, quantised])
    return bool(np.any(np.abs(values % 1 - 0.5) < 1e-5 * np.maximum(1.0, values)))


def test_block_params_equal_torchvision_on_random_designs():
    """300 seeded designs around the paper's ranges (depth 1-40, w_0 8-472, w_a 0-200, w_m 1.01-3); the
    stage settings equal ``BlockParams.from_init_params`` except at rounding ties (module docstring)."""
    from_init_params = torchvision_models().regnet.BlockParams.from_init_params
    rng = np.random.default_rng(0)
    for _ in range(300):
        design = {
            "depth": int(rng.integers(1, 41)), "w_0": 8 * int(rng.integers(1, 60)),
            "w_a": round(float(rng.uniform(0, 200)), int(rng.integers(0, 3))),
            "w_m": round(float(rng.uniform(1.01, 3)), 2), "group_width": 8 * int(rng.integers(1, 30)),
            "se_ratio": 0.25,
        }
        if _fields(block_params(**design)) != _fields(from_init_params(**design)):
            assert _near_rounding_tie(design["depth"], design["w_0"], design["w_a"], design["w_m"]), design


def test_invalid_design_is_rejected_as_in_torchvision():
    for bad in ({"w_0": 12}, {"w_a": -1.0}, {"w_m": 1.0}):
        design = {**_DESIGN, **bad}
        with pytest.raises(ValueError, match="Invalid RegNet settings"):
            block_params(**design)
        with pytest.raises(ValueError, match="Invalid RegNet settings"):
            torchvision_models().regnet.BlockParams.from_init_params(**design)


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
@pytest.mark.parametrize(("arch", "se_ratio"), [("regnet_y_400mf", 0.25), ("regnet_x_400mf", None)])
def test_small_regnet_logits_and_input_gradient_match_torchvision(arch, se_ratio, shape):
    regnet = torchvision_models().regnet
    model = regnet.RegNet(
        regnet.BlockParams.from_init_params(**_DESIGN, se_ratio=se_ratio), num_classes=10, stem_width=8
    )
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        arch, model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        num_classes=10, stem_width=8, **_DESIGN,
    )


def test_bfloat16_compute_returns_float32_logits():
    options, shape = SMALL["regnet_y_400mf"]
    module = build_architecture("regnet_y_400mf", num_classes=10, dtype=jnp.bfloat16, **options)
    variables = random_variables(module, shape, seed=0)
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype(np.float32)
    logits = flax_logits(module, variables, x)
    assert logits.dtype == np.float32 and logits.shape == (2, 10) and np.isfinite(logits).all()


@pytest.mark.parametrize("arch", REGNETS)
def test_full_size_output_shape_and_published_parameter_count(arch):
    """Shapes only (``jax.eval_shape``): 1000 float32 logits, and the ``num_params`` of torchvision's
    weights' metadata."""
    published = {w.meta["num_params"] for w in torchvision_models().get_model_weights(arch)}
    module = build_architecture(arch)
    images = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    logits, variables = jax.eval_shape(module.init_with_output, jax.random.key(0), images)
    assert logits.shape == (1, 1000) and logits.dtype == jnp.float32
    assert published == {sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(variables["params"]))}
