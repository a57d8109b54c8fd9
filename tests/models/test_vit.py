"""timm ViT / DeiT: random tiny torch models converted to Flax reproduce their logits; full sizes match
the public parameter counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.torch_reference_brain_transformers import TimmViT, randomize_, state_dict_numpy
from tests.torch_twins import nhwc_to_nchw

TINY = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
ARCHS = [
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "deit_tiny_patch16_224",
    "deit_small_patch16_224",
    "deit_base_patch16_224",
    "deit_base_distilled_patch16_224",
]
PUBLIC_PARAM_COUNTS = {  # timm model cards / `sum(p.numel() for p in model.parameters())`
    "vit_small_patch16_224": 22_050_664,
    "vit_base_patch16_224": 86_567_656,
    "deit_tiny_patch16_224": 5_717_416,
    "deit_small_patch16_224": 22_050_664,
    "deit_base_patch16_224": 86_567_656,
    "deit_base_distilled_patch16_224": 87_338_192,
}


def _tiny_pair(arch: str, seed: int = 0):
    module = build_architecture(arch, num_classes=10, **TINY)
    torch.manual_seed(seed)
    reference = randomize_(TimmViT(num_classes=10, distilled=module.distilled, **TINY), seed=seed)
    flat = get_converter(arch)(state_dict_numpy(reference))
    variables = check_against_module(module, flat, (32, 32, 3))
    return module, variables, reference


def _torch_logits(reference, module, x: np.ndarray) -> np.ndarray:
    normalised = (x - np.asarray(module.mean, np.float32)) / np.asarray(module.std, np.float32)
    with torch.no_grad():
        return reference(nhwc_to_nchw(normalised)).numpy()


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_random_model_matches_torch(arch, rng):
    module, variables, reference = _tiny_pair(arch)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    logits = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
    assert logits.dtype == jnp.float32 and logits.shape == (2, 10)
    np.testing.assert_allclose(np.asarray(logits), _torch_logits(reference, module, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_full_size_parameter_count(arch):
    module = build_architecture(arch)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 224, 224, 3)))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))
    assert count == PUBLIC_PARAM_COUNTS[arch]


def test_full_size_parameter_count_agrees_with_reference():
    reference = TimmViT(embed_dim=192, depth=12, num_heads=3)
    assert sum(p.numel() for p in reference.parameters()) == PUBLIC_PARAM_COUNTS["deit_tiny_patch16_224"]


def test_normalisation_defaults():
    assert build_architecture("vit_base_patch16_224").mean == (0.5, 0.5, 0.5)
    assert build_architecture("deit_small_patch16_224").mean == (0.485, 0.456, 0.406)


def test_wrong_input_size_is_rejected():
    module = build_architecture("vit_small_patch16_224", num_classes=10, **TINY)
    with pytest.raises(ValueError, match="position embeddings are not interpolated"):
        jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 48, 48, 3)))


def test_converter_output_is_checked_strictly():
    module, _, reference = _tiny_pair("vit_small_patch16_224")
    state = state_dict_numpy(reference)
    del state["blocks.0.attn.qkv.bias"]
    state["blocks.0.attn.extra.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(CheckpointMismatchError, match="qkv/bias"):
        check_against_module(module, get_converter("vit_small_patch16_224")(state), (32, 32, 3))


def test_bfloat16_forward_is_close_to_float32(rng):
    module, variables, _ = _tiny_pair("deit_base_distilled_patch16_224")
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    reference = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
    low_module = module.clone(dtype=jnp.bfloat16)
    low = jax.jit(lambda v, x: low_module.apply(v, x, train=False))(variables, x)
    assert low.dtype == jnp.float32
    scale = float(jnp.max(jnp.abs(reference)))
    np.testing.assert_allclose(np.asarray(low), np.asarray(reference), atol=0.05 * scale)
