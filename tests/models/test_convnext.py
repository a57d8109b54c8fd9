"""timm ConvNeXt beyond the full-size upstream comparison (``test_upstream.py``): the converted names,
bfloat16, and logits and input gradients of small ConvNeXt-XXL and ``convnext_large_mlp`` (hidden head
layer) models built by ``timm.create_model``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module, expected_shapes
from tests.models.helpers import (
    compare_logits_and_input_gradient,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
)

SMALL = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}


def small_pair(arch: str = "convnext_tiny", seed: int = 0):
    """timm's ``arch`` at a small size, randomised, and the matching Flax module with its variables."""
    module = build_architecture(arch, num_classes=10, **SMALL)
    calibration = np.random.default_rng(seed).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = timm_module().create_model(arch, pretrained=False, num_classes=10, **SMALL)
    randomize(reference, normalized(calibration, module.mean, module.std), seed=seed)
    variables = check_against_module(module, get_converter(arch)(numpy_state_dict(reference)), (32, 32, 3))
    return module, variables, reference


def test_converted_names_cover_the_torch_layout():
    _, _, reference = small_pair()
    state = numpy_state_dict(reference)
    assert "stages.1.downsample.1.weight" in state and "stages.0.blocks.0.gamma" in state
    flat = get_converter("convnext_tiny")(state)
    assert flat["params/stages_1/blocks_0/conv_dw/kernel"].shape == (7, 7, 1, 16)
    assert flat["params/stages_0/blocks_0/gamma"].shape == (8,)


def test_bfloat16_forward_is_close_to_float32(rng):
    module, variables, _ = small_pair()
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    np.testing.assert_allclose(low, reference, atol=0.05 * float(np.abs(reference).max()))


# --- ConvNeXt-L/XL/XXL and the CLIP towers' MLP head: small timm models, logits and input gradients ----


@pytest.mark.parametrize(
    ("arch", "options", "size"),
    [
        ("convnext_large_mlp", {**SMALL, "head_hidden_size": 16}, 32),
        # eps 1e-5 everywhere; 44 px is no multiple of 32 (44 -> 11 -> 5 -> 2 -> 1, floors as torch's)
        ("convnext_xxlarge", SMALL, 44),
    ],
)
def test_small_model_matches_timm(arch, options, size):
    module = build_architecture(arch, num_classes=10, **options)
    x = np.random.default_rng(2).uniform(size=(2, size, size, 3)).astype(np.float32)
    reference = timm_module().create_model(arch, pretrained=False, num_classes=10, **options)
    randomize(reference, normalized(x, module.mean, module.std), seed=2)
    compare_logits_and_input_gradient(
        arch, reference, x, mean=module.mean, std=module.std, rtol=1e-5, num_classes=10, **options
    )


def test_large_variants_defaults():
    state = expected_shapes(build_architecture("convnext_large_mlp"), (64, 64, 3))
    assert state["params/head/pre_logits/fc/kernel"] == (1536, 1536)
    assert state["params/head/fc/kernel"] == (1536, 1000)
    xxlarge = build_architecture("convnext_xxlarge")
    assert xxlarge.layer_norm_eps == 1e-5 and xxlarge.depths == (3, 4, 30, 3)
    assert build_architecture("convnext_xlarge").dims == (256, 512, 1024, 2048)
