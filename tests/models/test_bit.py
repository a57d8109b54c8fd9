"""BiT beyond the full-size upstream comparison (``test_upstream.py``): logits and input gradients of
small timm ResNet-V2 BiT models (timm's own ``ResNetV2`` with ``StdConv2d(eps=1e-8)``, GroupNorm and the
"fixed" stem), timm's 1x1-conv head layout, the original big_transfer ``.npz`` layout (written by
inverting timm's ``_load_weights``, checked by loading it back with that function), and full-size shapes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.registry import CheckpointQuirks
from alignjax.weights.keymaps import get_converter
from alignjax.weights.keymaps.bit import convert_bit_npz
from alignjax.weights.quirks import prepare_state_dict
from alignjax.weights.readers import load_checkpoint
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.families.bit import UPSTREAM, with_linear_head
from tests.models.helpers import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    compare_logits_and_input_gradient,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
    torch_logits,
)

SMALL = {"channels": (32, 64, 128, 256), "stem_features": 16, "num_groups": 8}


def small_timm(layers=(1, 1, 1, 1), width_factor: int = 1):
    """timm's ``ResNetV2`` as ``_create_resnetv2_bit`` builds it, narrow, GroupNorm with 8 groups."""
    timm_module()
    from timm.layers import GroupNormAct, StdConv2d
    from timm.models.resnetv2 import ResNetV2

    return ResNetV2(
        layers=list(layers), channels=SMALL["channels"], stem_chs=SMALL["stem_features"], width_factor=width_factor,
        stem_type="fixed", conv_layer=functools.partial(StdConv2d, eps=1e-8),
        norm_layer=functools.partial(GroupNormAct, num_groups=8), num_classes=10,
    )


def randomized_small_timm(x, layers=(1, 1, 1, 1), width_factor: int = 1, seed: int = 0):
    """(the model with timm's conv head, its Linear-head twin), randomised alike."""
    twin = randomize(with_linear_head(small_timm(layers, width_factor)), normalized(x, INCEPTION_MEAN, INCEPTION_STD),
                     seed=seed)
    model = small_timm(layers, width_factor).eval()
    state = {k: torch.from_numpy(v) for k, v in numpy_state_dict(twin).items()}
    state["head.fc.weight"] = state["head.fc.weight"][:, :, None, None]
    model.load_state_dict(state, strict=True)
    return model, twin


def flax_kwargs(layers=(1, 1, 1, 1), width_factor: int = 1) -> dict:
    return {"num_classes": 10, "stage_sizes": tuple(layers), "width_factor": width_factor, **SMALL}


@pytest.mark.parametrize(("width_factor", "shape"), [(1, (32, 32)), (1, (37, 45)), (2, (32, 32))])
def test_small_bit_logits_and_input_gradient_match_timm(width_factor, shape):
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    _, twin = randomized_small_timm(x, width_factor=width_factor)
    compare_logits_and_input_gradient(
        "resnetv2_50x1_bit", twin, x, mean=INCEPTION_MEAN, std=INCEPTION_STD, rtol=1e-5,
        **flax_kwargs(width_factor=width_factor),
    )


def _bit_npz(model) -> dict[str, np.ndarray]:
    """``model``'s weights under the original big_transfer names, HWIO: the inverse of timm's ``_load_weights``."""
    state = numpy_state_dict(model)

    def hwio(name):
        value = state[name]
        return value.transpose(2, 3, 1, 0) if value.ndim == 4 else value

    arrays = {
        "resnet/root_block/standardized_conv2d/kernel": hwio("stem.conv.weight"),
        "resnet/group_norm/gamma": state["norm.weight"], "resnet/group_norm/beta": state["norm.bias"],
        "resnet/head/conv2d/kernel": hwio("head.fc.weight"), "resnet/head/conv2d/bias": state["head.fc.bias"],
    }
    for i, stage in enumerate(model.stages):
        for j, block in enumerate(stage.blocks):
            unit, torch_prefix = f"resnet/block{i + 1}/unit{j + 1:02d}/", f"stages.{i}.blocks.{j}."
            for index, letter in enumerate("abc", start=1):
                arrays[f"{unit}{letter}/standardized_conv2d/kernel"] = hwio(f"{torch_prefix}conv{index}.weight")
                arrays[f"{unit}{letter}/group_norm/gamma"] = state[f"{torch_prefix}norm{index}.weight"]
                arrays[f"{unit}{letter}/group_norm/beta"] = state[f"{torch_prefix}norm{index}.bias"]
            if block.downsample is not None:
                arrays[f"{unit}a/proj/standardized_conv2d/kernel"] = hwio(f"{torch_prefix}downsample.conv.weight")
    return arrays


def test_original_npz_layout_converts_to_the_same_network(tmp_path):
    layers = (2, 1, 1, 2)  # unit02 in two stages
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    model, _ = randomized_small_timm(x, layers, seed=1)
    arrays = _bit_npz(model)
    path = tmp_path / "bit.npz"
    np.savez(path, **arrays)
    from timm.models.resnetv2 import _load_weights

    reloaded = small_timm(layers).eval()
    _load_weights(reloaded, str(path))  # timm's own reader of the release files takes them back exactly
    for name, value in numpy_state_dict(model).items():
        np.testing.assert_array_equal(numpy_state_dict(reloaded)[name], value, err_msg=name)

    module = build_architecture("resnetv2_50x1_bit", **flax_kwargs(layers))
    with np.load(path) as npz:
        variables = check_against_module(module, convert_bit_npz(dict(npz)), (32, 32, 3))
    expected = torch_logits(model, normalized(x, INCEPTION_MEAN, INCEPTION_STD))
    np.testing.assert_allclose(flax_logits(module, variables, x), expected, rtol=0, atol=1e-5 * np.abs(expected).max())

    # as a registry entry loads it: the file read by alignjax's npz reader, the `bit_npz` layout quirk
    state = load_checkpoint(path, strip=False).state_dict
    flat = prepare_state_dict(state, "resnetv2_50x1_bit", CheckpointQuirks(layout="bit_npz"), source=str(path))
    via_quirks = check_against_module(module, flat, (32, 32, 3))
    np.testing.assert_array_equal(flax_logits(module, via_quirks, x), flax_logits(module, variables, x))

    with pytest.raises(CheckpointMismatchError, match="resnet/block1/unit09"):
        check_against_module(
            module, convert_bit_npz(arrays | {"resnet/block1/unit09/a/weird": np.zeros(3, np.float32)}), (32, 32, 3)
        )


def test_timm_conv_head_layout_converts():
    x = np.random.default_rng(2).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    model, twin = randomized_small_timm(x, seed=2)
    state = numpy_state_dict(model)
    assert state["head.fc.weight"].shape == (10, 256, 1, 1) and "stages.0.blocks.0.downsample.conv.weight" in state
    flat = get_converter("resnetv2_50x1_bit")(state)
    assert flat["params/head/fc/kernel"].shape == (256, 10)
    module = build_architecture("resnetv2_50x1_bit", **flax_kwargs())
    variables = check_against_module(module, flat, (32, 32, 3))
    expected = torch_logits(model, normalized(x, INCEPTION_MEAN, INCEPTION_STD))
    np.testing.assert_allclose(torch_logits(twin, normalized(x, INCEPTION_MEAN, INCEPTION_STD)), expected, atol=1e-6)
    np.testing.assert_allclose(flax_logits(module, variables, x), expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("arch", sorted(UPSTREAM))
def test_full_size_output_shape(arch):
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 10) and out.dtype == jnp.float32
