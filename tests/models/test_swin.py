"""timm Swin Transformers beyond the full-size upstream comparison (``test_upstream.py``): logits and
input gradients of small timm Swins where shifted windows, their masks, padding to the window and odd
patch merging all act; the fixed buffers (relative position index, shift masks) against timm's; the
buffers of older files and the Microsoft release layout (``'microsoft_swin'``); bfloat16; full-size
output shapes and parameter counts of every variant."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.models.swin import attention_mask, relative_position_index, window_and_shift
from alignjax.weights.keymaps import get_converter, get_layout
from alignjax.weights.strict import check_against_module
from tests.models.families.swin import SMALL_OPTIONS
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
)

TINY = "swin_tiny_patch4_window7_224"
# 40 px: a 10x10 patch grid in 3x3 windows of 4 (padded to 12, shifted by 2), merged to 5x5 (padded to 6
# on merging later), in 2x2 windows of 4 (padded to 8, shifted), then 3x3 in one clamped 3x3 window
PADDED_OPTIONS = {
    "img_size": 40, "embed_dim": 16, "depths": (2, 2, 2), "num_heads": (1, 2, 2), "window_size": 4,
}


def small_timm(options, seed: int = 0):
    """timm's Swin-T with ``options`` and 10 classes, randomised, and a batch of 2 inputs for it."""
    size = options["img_size"]
    x = np.random.default_rng(seed).uniform(size=(2, size, size, 3)).astype(np.float32)
    reference = timm_module().create_model(TINY, pretrained=False, num_classes=10, **options)
    return randomize(reference, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=seed), x


@pytest.mark.parametrize("options", [SMALL_OPTIONS, PADDED_OPTIONS], ids=["shifted_2x2_windows", "padded"])
def test_small_model_logits_and_input_gradient_match_timm(options):
    reference, x = small_timm(options, seed=2)
    compare_logits_and_input_gradient(
        TINY, reference, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, num_classes=10, **options
    )


def test_fixed_buffers_equal_timms():
    """Window clamps, shifts, ``relative_position_index`` and ``attn_mask`` of every block equal timm's."""
    reference, _ = small_timm(PADDED_OPTIONS)
    masked = 0
    for stage in reference.layers:
        for j, block in enumerate(stage.blocks):
            resolution = tuple(block.input_resolution)
            window, shift, has_shift = window_and_shift(resolution, PADDED_OPTIONS["window_size"])
            assert tuple(block.window_size) == window
            assert tuple(block.shift_size) == (shift if j % 2 else (0, 0))
            index = block.attn.relative_position_index.numpy()
            np.testing.assert_array_equal(relative_position_index(window), index)
            if block.attn_mask is None:
                assert not (j % 2 and has_shift)
                continue
            padded = tuple(math.ceil(side / w) * w for side, w in zip(resolution, window, strict=True))
            np.testing.assert_array_equal(attention_mask(padded, window, shift), block.attn_mask.numpy())
            masked += 1
    assert masked == 2  # stages 0 and 1 shift; stage 2's 3x3 map is one window


def _with_buffers(reference) -> dict[str, np.ndarray]:
    """The state dict as files of earlier timm releases hold it: with the index and mask buffers."""
    state = numpy_state_dict(reference)
    for name, buffer in reference.named_buffers():
        state[name] = buffer.numpy().copy()
    assert any(name.endswith("attn_mask") for name in state)
    assert any(name.endswith("relative_position_index") for name in state)
    return state


def _assert_same_flat(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value)


def test_converter_drops_buffers_and_output_is_strictly_checked():
    reference, _ = small_timm(PADDED_OPTIONS)
    converter = get_converter(TINY)
    expected = converter(numpy_state_dict(reference))
    _assert_same_flat(converter(_with_buffers(reference)), expected)
    assert expected["params/layers_1/downsample/reduction/kernel"].shape == (64, 32)
    assert expected["params/layers_0/blocks_1/attn/relative_position_bias_table"].shape == (49, 1)
    assert expected["params/patch_embed/proj/kernel"].shape == (4, 4, 3, 16)
    module = build_architecture(TINY, num_classes=10, **PADDED_OPTIONS)
    check_against_module(module, expected, (40, 40, 3))


def test_microsoft_release_layout_converts_like_timms():
    """The Microsoft release (and timm < 0.9) downsample at the end of a stage and name the classifier
    ``head``; the layout renames as timm's ``checkpoint_filter_fn`` and passes timm's own files through."""
    reference, _ = small_timm(PADDED_OPTIONS)
    timm_state = _with_buffers(reference)
    released = {}
    for name, value in timm_state.items():
        parts = name.split(".")
        if parts[0] == "layers" and parts[2] == "downsample":
            name = ".".join(["layers", str(int(parts[1]) - 1), *parts[2:]])
        released[name.replace("head.fc.", "head.")] = value
    assert "layers.0.downsample.reduction.weight" in released and "head.weight" in released
    assert not any(name.startswith("layers.2.downsample") for name in released)
    layout = get_layout("microsoft_swin")
    expected = get_converter(TINY)(numpy_state_dict(reference))
    _assert_same_flat(layout(released, TINY), expected)
    _assert_same_flat(layout(timm_state, TINY), expected)


def test_bfloat16_forward_is_close_to_float32(rng):
    reference, _ = small_timm(SMALL_OPTIONS)
    module = build_architecture(TINY, num_classes=10, **SMALL_OPTIONS)
    variables = check_against_module(module, get_converter(TINY)(numpy_state_dict(reference)), (32, 32, 3))
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    full = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    np.testing.assert_allclose(low, full, atol=0.05 * float(np.abs(full).max()))


def test_wrong_input_size_is_rejected():
    module = build_architecture(TINY, num_classes=10, **SMALL_OPTIONS)
    with pytest.raises(ValueError, match="built for 32x32"):
        jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 48, 48, 3)))


# timm 1.0.31, ``sum(p.numel() for p in timm.create_model(name).parameters())``
PARAMETER_COUNTS = {
    "swin_tiny_patch4_window7_224": (224, 28_288_354),
    "swin_small_patch4_window7_224": (224, 49_606_258),
    "swin_base_patch4_window7_224": (224, 87_768_224),
    "swin_base_patch4_window12_384": (384, 87_903_584),
    "swin_large_patch4_window7_224": (224, 196_532_476),
}


@pytest.mark.parametrize("arch", sorted(PARAMETER_COUNTS))
def test_full_size_output_shape_and_parameter_count(arch):
    size, expected = PARAMETER_COUNTS[arch]
    module = build_architecture(arch)
    x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
    logits, variables = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x), x)
    assert logits.shape == (2, 1000) and logits.dtype == jnp.float32
    assert set(variables) == {"params"}
    assert sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables)) == expected
