"""CIFAR ResNet-18 (auto-attack's examples, checked against the installed reference and its checkpoint)
and RobustBench's PreActResNet-18: equal logits, strict checks, parameter counts, bfloat16."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.cifar_resnet import CifarResNet
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.torch_reference_cnns import (
    PreActResNet,
    convert_and_compare,
    count_parameters,
    flax_parameter_count,
    numpy_state_dict,
    randomize,
    torch_logits,
)

autoattack_resnet = pytest.importorskip("pyautoattack.examples.resnet")

TINY_WIDTHS = (8, 16, 32, 64)


def test_cifar_resnet_matches_autoattack_reference(rng):
    """One block per stage at the reference's fixed widths (64 ... 512)."""
    torch_model = randomize(autoattack_resnet.ResNet(autoattack_resnet.BasicBlock, [1, 1, 1, 1]), seed=0)
    module = CifarResNet(stage_sizes=(1, 1, 1, 1))
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "cifar_resnet18")


def test_autoattack_example_checkpoint_converts_exactly(rng):
    """``model_test.pt`` shipped with auto-attack's examples: the real ResNet-18 checkpoint."""
    path = Path(autoattack_resnet.__file__).with_name("model_test.pt")
    assert path.is_file(), f"{path} missing: the pyautoattack wheel of the test extra ships it"
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    torch_model = autoattack_resnet.ResNet18()
    torch_model.load_state_dict(state_dict)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    logits = convert_and_compare(build_architecture("cifar_resnet18"), torch_model, x, "cifar_resnet18")
    assert logits.shape == (2, 10)


def test_preact_resnet_matches_torch(rng):
    torch_model = randomize(PreActResNet(num_blocks=(2, 1, 1, 1), num_classes=7, widths=TINY_WIDTHS), seed=1)
    module = CifarResNet(stage_sizes=(2, 1, 1, 1), pre_activation=True, num_classes=7, widths=TINY_WIDTHS)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "preact_resnet18")


def test_optional_normalisation_matches_normalising_the_input(rng):
    """``mean``/``std`` (e.g. RobustBench's Wong2020Fast) equal normalising before the torch model."""
    mean, std = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)
    torch_model = randomize(PreActResNet(num_blocks=(1, 1, 1, 1), widths=TINY_WIDTHS), seed=2)
    module = CifarResNet(
        stage_sizes=(1, 1, 1, 1), pre_activation=True, widths=TINY_WIDTHS, mean=mean, std=std
    )
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    normalise = lambda images: ((images - np.float32(mean)) / np.float32(std)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "preact_resnet18", torch_input=normalise)


def test_strict_check_names_missing_unexpected_and_misshaped():
    torch_model = PreActResNet(num_blocks=(1, 1, 1, 1), widths=TINY_WIDTHS)
    module = CifarResNet(stage_sizes=(1, 1, 1, 1), pre_activation=True, widths=TINY_WIDTHS)
    state_dict = numpy_state_dict(torch_model)
    del state_dict["layer3.0.shortcut.0.weight"]
    state_dict["layer2.0.shortcut.1.weight"] = np.ones((16,), np.float32)  # a BN PreAct blocks lack
    state_dict["bn.running_mean"] = np.zeros((32,), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("preact_resnet18")(state_dict), (32, 32, 3))
    message = str(info.value)
    for name in (
        "params/layer3_0/shortcut_0/kernel",
        "params/layer2_0/shortcut_1/scale",
        "batch_stats/bn/mean",
    ):
        assert name in message


def test_full_size_parameter_counts():
    assert flax_parameter_count(build_architecture("cifar_resnet18"), (32, 32, 3)) == 11_173_962
    with torch.device("meta"):
        assert count_parameters(autoattack_resnet.ResNet18()) == 11_173_962
        preact_count = count_parameters(PreActResNet())
    # RobustBench's PreActResNet-18: no stem BN, no shortcut BN, one final BN.
    assert preact_count == 11_173_962 - 2 * 64 - (128 + 256 + 512) - 2 * (128 + 256 + 512) + 2 * 512
    assert flax_parameter_count(build_architecture("preact_resnet18"), (32, 32, 3)) == preact_count


def test_non_32x32_inputs_are_rejected_by_the_strict_check():
    """The 4x4 average pool must leave 1x1 features; other sizes change ``linear``'s input width."""
    module = build_architecture("cifar_resnet18")
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 32, 32, 3))
    )
    assert out.shape == (2, 10)
    state_dict = numpy_state_dict(autoattack_resnet.ResNet18())
    with pytest.raises(CheckpointMismatchError, match="params/linear/kernel"):
        check_against_module(module, get_converter("cifar_resnet18")(state_dict), (64, 64, 3))


def test_bfloat16_forward_close_to_float32(rng):
    torch_model = randomize(autoattack_resnet.ResNet(autoattack_resnet.BasicBlock, [1, 1, 1, 1]), seed=3)
    module = CifarResNet(stage_sizes=(1, 1, 1, 1), dtype=jnp.bfloat16)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    variables = check_against_module(
        module, get_converter("cifar_resnet18")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    reference = torch_logits(torch_model, x)
    low = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
