"""WideResNets (RobustBench's classic layout and DeepMind's): equal logits, strict checks, counts, bfloat16."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch import nn as torch_nn

from alignjax.models import ARCHITECTURES, build_architecture
from alignjax.models.wide_resnet import DMWideResNet, WideResNet
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models import torch_reference_cnns as ref
from tests.models.torch_reference_cnns import (
    Swish,
    convert_and_compare,
    count_parameters,
    flax_parameter_count,
    numpy_state_dict,
    randomize,
    torch_logits,
)


@pytest.mark.parametrize(("depth", "widen_factor"), [(10, 1), (16, 2)], ids=["wrn_10_1", "wrn_16_2"])
def test_classic_wide_resnet_matches_torch(depth, widen_factor, rng):
    """WRN-10-1 takes the identity path in block1; WRN-16-2 a shortcut conv there and identities after."""
    torch_model = randomize(ref.WideResNet(depth, num_classes=7, widen_factor=widen_factor), seed=depth)
    module = WideResNet(depth=depth, widen_factor=widen_factor, num_classes=7)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "wrn_28_10")


@pytest.mark.parametrize(
    ("depth", "width", "activation"),
    [(10, 1, "swish"), (16, 2, "relu")],
    ids=["dm_10_1_swish", "dm_16_2_relu"],
)
def test_dm_wide_resnet_matches_torch(depth, width, activation, rng):
    activation_fn = Swish if activation == "swish" else torch_nn.ReLU
    torch_model = randomize(
        ref.DMWideResNet(num_classes=7, depth=depth, width=width, activation_fn=activation_fn), seed=depth
    )
    module = DMWideResNet(depth=depth, width=width, num_classes=7, activation=activation)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "dm_wrn_28_10")


def test_dm_input_padding_matches_torch(rng):
    torch_model = randomize(ref.DMWideResNet(num_classes=7, depth=10, width=1, padding=2), seed=3)
    module = DMWideResNet(depth=10, width=1, num_classes=7, padding=2)
    x = rng.uniform(size=(2, 28, 28, 3)).astype(np.float32)  # padded to 32x32 inside
    convert_and_compare(module, torch_model, x, "dm_wrn_28_10")


def test_strict_check_names_missing_unexpected_and_misshaped():
    module = DMWideResNet(depth=10, width=1)
    state_dict = numpy_state_dict(ref.DMWideResNet(depth=10, width=1))
    del state_dict["layer.1.block.0.shortcut.weight"]
    state_dict["layer.0.block.0.shortcut.weight"] = np.zeros((16, 16, 1, 1), np.float32)
    state_dict["logits.bias"] = np.zeros((11,), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("dm_wrn_28_10")(state_dict), (32, 32, 3))
    message = str(info.value)
    for name in (
        "params/layer_1/block_0/shortcut/kernel",
        "params/layer_0/block_0/shortcut/kernel",
        "params/logits/bias",
    ):
        assert name in message


def test_classic_and_dm_layouts_are_not_interchangeable():
    state_dict = numpy_state_dict(ref.WideResNet(10, widen_factor=1))
    with pytest.raises(CheckpointMismatchError, match="init_conv"):
        check_against_module(
            DMWideResNet(depth=10, width=1), get_converter("dm_wrn_28_10")(state_dict), (32, 32, 3)
        )


KNOWN_COUNTS = {"wrn_28_10": 36_479_194, "wrn_34_10": 46_160_474}
CONFIGS = {"28_10": (28, 10), "34_10": (34, 10), "70_16": (70, 16)}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_full_size_parameter_counts(name):
    depth, width = CONFIGS[name]
    with torch.device("meta"):
        classic = count_parameters(ref.WideResNet(depth, widen_factor=width))
        deepmind = count_parameters(ref.DMWideResNet(depth=depth, width=width))
    assert classic == deepmind == KNOWN_COUNTS.get(f"wrn_{name}", classic)
    assert flax_parameter_count(build_architecture(f"wrn_{name}"), (32, 32, 3)) == classic
    if f"dm_wrn_{name}" in ARCHITECTURES:
        assert flax_parameter_count(build_architecture(f"dm_wrn_{name}"), (32, 32, 3)) == deepmind


def test_other_input_sizes_are_rejected():
    module = build_architecture("wrn_28_10")
    with pytest.raises(ValueError, match="32x32"):
        jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 64, 64, 3)))


def test_bfloat16_forward_close_to_float32(rng):
    torch_model = randomize(ref.DMWideResNet(num_classes=7, depth=10, width=1), seed=4)
    module = DMWideResNet(depth=10, width=1, num_classes=7, dtype=jnp.bfloat16)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    variables = check_against_module(
        module, get_converter("dm_wrn_70_16")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    reference = torch_logits(torch_model, x)
    low = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
