"""timm ConvNeXt: random tiny torch models converted to Flax reproduce their logits; full sizes match
the public parameter counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module
from tests.models.torch_reference_brain_transformers import (
    TimmConvNeXt,
    count_parameters,
    randomize_,
    state_dict_numpy,
)
from tests.torch_twins import nhwc_to_nchw

TINY = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}
ARCHS = ["convnext_tiny", "convnext_small", "convnext_base"]
PUBLIC_PARAM_COUNTS = {"convnext_tiny": 28_589_128, "convnext_small": 50_223_688, "convnext_base": 88_591_464}


def _tiny_pair(arch: str, seed: int = 0):
    module = build_architecture(arch, num_classes=10, **TINY)
    reference = randomize_(TimmConvNeXt(num_classes=10, **TINY), seed=seed)
    flat = get_converter(arch)(state_dict_numpy(reference))
    variables = check_against_module(module, flat, (32, 32, 3))
    return module, variables, reference


def test_converted_names_cover_the_torch_layout():
    state = state_dict_numpy(TimmConvNeXt(num_classes=10, **TINY))
    assert "stages.1.downsample.1.weight" in state and "stages.0.blocks.0.gamma" in state
    flat = get_converter("convnext_tiny")(state)
    assert flat["params/stages_1/blocks_0/conv_dw/kernel"].shape == (7, 7, 1, 16)
    assert flat["params/stages_0/blocks_0/gamma"].shape == (8,)


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_random_model_matches_torch(arch, rng):
    module, variables, reference = _tiny_pair(arch)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    logits = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
    assert logits.dtype == jnp.float32 and logits.shape == (2, 10)
    normalised = (x - np.asarray(module.mean, np.float32)) / np.asarray(module.std, np.float32)
    with torch.no_grad():
        expected = reference(nhwc_to_nchw(normalised)).numpy()
    np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_full_size_parameter_count(arch):
    module = build_architecture(arch)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 224, 224, 3)))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))
    assert count == PUBLIC_PARAM_COUNTS[arch]


def test_reference_full_size_matches_public_count():
    assert count_parameters(TimmConvNeXt()) == PUBLIC_PARAM_COUNTS["convnext_tiny"]


def test_bfloat16_forward_is_close_to_float32(rng):
    module, variables, _ = _tiny_pair("convnext_tiny")
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
    low_module = module.clone(dtype=jnp.bfloat16)
    low = jax.jit(lambda v, x: low_module.apply(v, x, train=False))(variables, x)
    assert low.dtype == jnp.float32
    scale = float(jnp.max(jnp.abs(reference)))
    np.testing.assert_allclose(np.asarray(low), np.asarray(reference), atol=0.05 * scale)
