"""timm ConvNeXt beyond the full-size upstream comparison (``test_upstream.py``): the converted names
and bfloat16, on small timm models built by ``timm.create_model``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module
from tests.models.helpers import flax_logits, normalized, numpy_state_dict, randomize, timm_module

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
