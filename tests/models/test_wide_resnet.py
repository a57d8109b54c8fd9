"""WideResNets (RobustBench's classic layout and DeepMind's) beyond the full-size upstream comparison
(``test_upstream.py``): the paths full sizes never take (an identity first block, ReLU activations,
input padding), strict checks, input sizes, bfloat16; all against RobustBench's own modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.helpers import (
    compare_with_upstream,
    flax_logits,
    numpy_state_dict,
    randomize,
    robustbench_architecture,
    torch_logits,
)


def cifar_images(size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(2, size, size, 3)).astype(np.float32)


def test_classic_wide_resnet_with_identity_first_block_matches_robustbench():
    """WRN-10-1: block1 maps 16 -> 16 channels, so its first block takes the identity path."""
    model = robustbench_architecture("wide_resnet").WideResNet(10, num_classes=7, widen_factor=1)
    x = cifar_images()
    compare_with_upstream("wrn_28_10", randomize(model, x), x, depth=10, widen_factor=1, num_classes=7)


@pytest.mark.parametrize("activation", ["swish", "relu"])
def test_dm_wide_resnet_matches_robustbench(activation):
    dm = robustbench_architecture("dm_wide_resnet")
    activation_fn = dm.Swish if activation == "swish" else dm.nn.ReLU
    model = dm.DMWideResNet(num_classes=7, depth=10, width=1, activation_fn=activation_fn)
    x = cifar_images()
    compare_with_upstream(
        "dm_wrn_28_10", randomize(model, x), x, depth=10, width=1, num_classes=7, activation=activation
    )


def test_dm_input_padding_matches_robustbench():
    model = robustbench_architecture("dm_wide_resnet").DMWideResNet(
        num_classes=7,
        depth=10,
        width=1,
        activation_fn=robustbench_architecture("dm_wide_resnet").Swish,
        padding=2,
    )
    x = cifar_images(size=28)  # padded to 32x32 inside
    randomize(model, x, seed=3)
    compare_with_upstream("dm_wrn_28_10", model, x, depth=10, width=1, num_classes=7, padding=2)


def test_strict_check_names_missing_unexpected_and_misshaped():
    module = build_architecture("dm_wrn_28_10", depth=10, width=1)
    state_dict = numpy_state_dict(robustbench_architecture("dm_wide_resnet").DMWideResNet(depth=10, width=1))
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
    state_dict = numpy_state_dict(robustbench_architecture("wide_resnet").WideResNet(10, widen_factor=1))
    with pytest.raises(CheckpointMismatchError, match="init_conv"):
        check_against_module(
            build_architecture("dm_wrn_28_10", depth=10, width=1),
            get_converter("dm_wrn_28_10")(state_dict),
            (32, 32, 3),
        )


def test_other_input_sizes_are_rejected():
    module = build_architecture("wrn_28_10")
    with pytest.raises(ValueError, match="32x32"):
        jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 64, 64, 3)))


def test_bfloat16_forward_close_to_float32():
    dm = robustbench_architecture("dm_wide_resnet")
    x = cifar_images()
    model = randomize(dm.DMWideResNet(num_classes=7, depth=10, width=1, activation_fn=dm.Swish), x, seed=4)
    module = build_architecture("dm_wrn_70_16", depth=10, width=1, num_classes=7, dtype=jnp.bfloat16)
    variables = check_against_module(
        module, get_converter("dm_wrn_70_16")(numpy_state_dict(model)), x.shape[1:]
    )
    reference = torch_logits(model, x)
    low = flax_logits(module, variables, x)
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
