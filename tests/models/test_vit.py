"""timm ViT / DeiT beyond the full-size upstream comparison (``test_upstream.py``): normalisation
defaults, input size, strict checks and bfloat16, on small timm models built by ``timm.create_model``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.helpers import flax_logits, normalized, numpy_state_dict, randomize, timm_module

SMALL = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}


def small_pair(arch: str, seed: int = 0):
    """timm's ``arch`` at a small size, randomised, and the matching Flax module with its variables."""
    module = build_architecture(arch, num_classes=10, **SMALL)
    calibration = np.random.default_rng(seed).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = timm_module().create_model(arch, pretrained=False, num_classes=10, **SMALL)
    randomize(reference, normalized(calibration, module.mean, module.std), seed=seed)
    variables = check_against_module(module, get_converter(arch)(numpy_state_dict(reference)), (32, 32, 3))
    return module, variables, reference


def test_normalisation_defaults():
    assert build_architecture("vit_base_patch16_224").mean == (0.5, 0.5, 0.5)
    assert build_architecture("deit_small_patch16_224").mean == (0.485, 0.456, 0.406)


def test_wrong_input_size_is_rejected():
    module = build_architecture("vit_small_patch16_224", num_classes=10, **SMALL)
    with pytest.raises(ValueError, match="position embeddings are not interpolated"):
        jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 48, 48, 3)))


def test_converter_output_is_checked_strictly():
    module, _, reference = small_pair("vit_small_patch16_224")
    state = numpy_state_dict(reference)
    del state["blocks.0.attn.qkv.bias"]
    state["blocks.0.attn.extra.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(CheckpointMismatchError, match="qkv/bias"):
        check_against_module(module, get_converter("vit_small_patch16_224")(state), (32, 32, 3))


def test_bfloat16_forward_is_close_to_float32(rng):
    module, variables, _ = small_pair("deit_base_distilled_patch16_224")
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    np.testing.assert_allclose(low, reference, atol=0.05 * float(np.abs(reference).max()))
