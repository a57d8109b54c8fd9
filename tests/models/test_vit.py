"""timm ViT / DeiT / CLIP ViTs beyond the full-size upstream comparison (``test_upstream.py``):
normalisation defaults, input size, strict checks and bfloat16, logits and input gradients of small timm
models built by ``timm.create_model``, and the ``pytorch_pretrained_vit`` checkpoint layout against
pytorch-pretrained-vit's own model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.models.registry import architecture_input_shape
from alignjax.weights.keymaps import get_converter, get_layout
from alignjax.weights.strict import CheckpointMismatchError, check_against_module, expected_shapes
from tests.models.helpers import (
    compare_logits_and_input_gradient,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
)

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


# --- ViT-L and the CLIP towers: small timm models, logits and input gradients ------------------------


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        ("vit_large_patch32_384", SMALL),
        # patch 14 on 28x28 (2x2 patches), as the CLIP ViT-L/14 and ViT-H/14 cut their inputs
        ("vit_huge_patch14_clip_224", {**SMALL, "img_size": 28, "patch_size": 14}),
    ],
)
def test_small_model_matches_timm(arch, options):
    size = options["img_size"]
    module = build_architecture(arch, num_classes=10, **options)
    x = np.random.default_rng(3).uniform(size=(2, size, size, 3)).astype(np.float32)
    reference = timm_module().create_model(arch, pretrained=False, num_classes=10, **options)
    randomize(reference, normalized(x, module.mean, module.std), seed=3)
    compare_logits_and_input_gradient(
        arch, reference, x, mean=module.mean, std=module.std, rtol=1e-5, num_classes=10, **options
    )


def test_clip_variants_have_pre_norm_and_clip_statistics():
    state = expected_shapes(build_architecture("vit_base_patch32_clip_224", num_classes=10, **SMALL), (32, 32, 3))
    assert "params/norm_pre/scale" in state and "params/patch_embed/proj/bias" not in state
    module = build_architecture("vit_huge_patch14_clip_224")
    assert module.layer_norm_eps == 1e-5 and module.mean == (0.48145466, 0.4578275, 0.40821073)
    assert build_architecture("vit_large_patch14_clip_224").mean == (0.5, 0.5, 0.5)  # timm's laion2b default


@pytest.mark.parametrize(
    ("arch", "size"),
    [("vit_large_patch32_384", 384), ("vit_base_patch16_384", 384), ("vit_large_patch14_clip_336", 336)],
)
def test_large_input_variants_take_their_input_size(arch, size):
    assert architecture_input_shape(arch) == (size, size, 3)
    module = build_architecture(arch)
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    logits = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], x)
    assert logits.shape == (1, 1000) and logits.dtype == jnp.float32


# --- layout 'pytorch_pretrained_vit' (lukemelas/PyTorch-Pretrained-ViT 0.0.7) ------------------------


def pytorch_pretrained_vit_small(monkeypatch, seed: int = 4):
    """pytorch_pretrained_vit's ``ViT`` at SMALL's size, built by name through a temporary entry of its
    ``PRETRAINED_MODELS`` (its ``name=None`` path refers to an undefined ``resize_positional_embedding``)."""
    from pytorch_pretrained_vit import configs, model

    config = dict(configs.PRETRAINED_MODELS["L_32_imagenet1k"]["config"])
    config.update(patches=(8, 8), dim=32, ff_dim=128, num_heads=2, num_layers=1)
    monkeypatch.setitem(
        configs.PRETRAINED_MODELS, "tiny", {"config": config, "num_classes": 10, "image_size": (32, 32), "url": None}
    )
    return model.ViT("tiny", pretrained=False)


def test_pytorch_pretrained_vit_layout_matches_its_model(monkeypatch):
    import torch

    reference = pytorch_pretrained_vit_small(monkeypatch)
    module = build_architecture("vit_large_patch32_384", num_classes=10, **SMALL)
    x = np.random.default_rng(4).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    randomize(reference, normalized(x, module.mean, module.std), seed=4)
    state = numpy_state_dict(reference)
    assert "transformer.blocks.0.attn.proj_q.weight" in state and "transformer.blocks.0.proj.bias" in state
    variables = check_against_module(
        module, get_layout("pytorch_pretrained_vit")(state, "vit_large_patch32_384"), (32, 32, 3)
    )

    def readout(images):
        logits = module.apply(variables, images)
        return jnp.sum(logits * jnp.linspace(-1.0, 1.0, 10, dtype=jnp.float32)[None, :]), logits

    gradient, logits = jax.jit(jax.grad(readout, has_aux=True))(jnp.asarray(x))
    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    mean = torch.tensor(module.mean).reshape(1, 3, 1, 1)
    std = torch.tensor(module.std).reshape(1, 3, 1, 1)
    expected = reference.eval()((images - mean) / std)
    (expected * torch.linspace(-1.0, 1.0, 10)).sum().backward()
    for ours, theirs in ((logits, expected.detach().numpy()), (gradient, images.grad.numpy().transpose(0, 2, 3, 1))):
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-5 * float(np.abs(theirs).max()))


def test_pytorch_pretrained_vit_layout_leaves_incomplete_qkv_to_the_strict_check(monkeypatch):
    state = numpy_state_dict(pytorch_pretrained_vit_small(monkeypatch))
    del state["transformer.blocks.0.attn.proj_k.weight"]
    module = build_architecture("vit_large_patch32_384", num_classes=10, **SMALL)
    flat = get_layout("pytorch_pretrained_vit")(state, "vit_large_patch32_384")
    with pytest.raises(CheckpointMismatchError, match="proj_q"):
        check_against_module(module, flat, (32, 32, 3))
