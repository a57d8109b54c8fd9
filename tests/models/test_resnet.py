"""torchvision ResNets: tiny random torch models convert to equal logits; strict checks; parameter counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import ARCHITECTURES, build_architecture
from alignjax.models.resnet import ResNet, resnet50_back_end
from alignjax.weights.keymaps import get_converter
from alignjax.weights.keymaps.torchvision_cnn import flax_module_path
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.torch_reference_cnns import (
    TVBasicBlock,
    TVBottleneck,
    TVResNet,
    convert_and_compare,
    count_parameters,
    flax_parameter_count,
    imagenet_normalized,
    numpy_state_dict,
    randomize,
    torch_logits,
)

TINY = {
    # name: (torch block, stage sizes, width, width_per_group)
    "basic": (TVBasicBlock, (2, 1, 1, 1), 8, 64),
    "bottleneck": (TVBottleneck, (1, 1, 1, 1), 8, 64),
    "wide_bottleneck": (TVBottleneck, (1, 1, 1, 1), 8, 128),
}


def tiny_pair(kind: str, num_classes: int = 7, seed: int = 0):
    block, stage_sizes, width, width_per_group = TINY[kind]
    torch_model = randomize(TVResNet(block, stage_sizes, num_classes, width, width_per_group), seed)
    module = ResNet(
        stage_sizes=stage_sizes,
        bottleneck=block is TVBottleneck,
        num_classes=num_classes,
        width=width,
        width_per_group=width_per_group,
    )
    return module, torch_model


@pytest.mark.parametrize("kind", sorted(TINY))
def test_tiny_resnet_matches_torch(kind, rng):
    module, torch_model = tiny_pair(kind)
    x = rng.uniform(size=(2, 64, 64, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "resnet50", torch_input=imagenet_normalized)


def test_back_end_matches_torch_layers_to_fc(rng):
    """``stem=False`` is torchvision's layer1 ... fc on a feature map, without normalisation."""
    torch_model = randomize(TVResNet(TVBottleneck, (1, 1, 1, 1), 5, width=8), seed=1)
    state_dict = {
        k: v for k, v in numpy_state_dict(torch_model).items() if not k.startswith(("conv1.", "bn1."))
    }
    module = ResNet(stage_sizes=(1, 1, 1, 1), bottleneck=True, num_classes=5, width=8, stem=False)
    features = rng.normal(size=(2, 16, 16, 8)).astype(np.float32)
    variables = check_against_module(module, get_converter("resnet50")(state_dict), features.shape[1:])
    with torch.no_grad():
        expected = torch_model.forward_features(
            torch.from_numpy(features.transpose(0, 3, 1, 2).copy())
        ).numpy()
    got = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, features))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_resnet50_back_end_variables_are_torchvisions_minus_the_stem():
    back_end = jax.eval_shape(
        lambda x: resnet50_back_end().init(jax.random.key(0), x), jnp.zeros((1, 56, 56, 64))
    )
    full = jax.eval_shape(
        lambda x: build_architecture("resnet50").init(jax.random.key(0), x), jnp.zeros((1, 64, 64, 3))
    )
    assert set(full["params"]) - set(back_end["params"]) == {"conv1", "bn1"}
    assert set(back_end["params"]) == {
        f"layer{s}_{i}" for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for i in range(n)
    } | {"fc"}


def test_strict_check_names_missing_unexpected_and_misshaped():
    module, torch_model = tiny_pair("basic")
    state_dict = numpy_state_dict(torch_model)
    del state_dict["layer2.0.bn1.running_var"]
    state_dict["layer9.0.conv1.weight"] = np.zeros((8, 8, 3, 3), np.float32)
    state_dict["fc.weight"] = np.zeros((3, 64), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("resnet18")(state_dict), (64, 64, 3))
    message = str(info.value)
    assert "batch_stats/layer2_0/bn1/var" in message
    assert "params/layer9_0/conv1/kernel" in message
    assert "params/fc/kernel" in message


def test_unknown_torch_leaves_are_reported_not_dropped():
    module, torch_model = tiny_pair("basic")
    state_dict = numpy_state_dict(torch_model) | {"fc.weight_g": np.zeros((7,), np.float32)}
    with pytest.raises(CheckpointMismatchError, match="fc.weight_g"):
        check_against_module(module, get_converter("resnet18")(state_dict), (64, 64, 3))


KNOWN_COUNTS = {  # torchvision's documented parameter counts
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet50_2": 68_883_240,
}
TORCH_CONFIGS = {
    "resnet18": (TVBasicBlock, (2, 2, 2, 2), 64),
    "resnet34": (TVBasicBlock, (3, 4, 6, 3), 64),
    "resnet50": (TVBottleneck, (3, 4, 6, 3), 64),
    "resnet101": (TVBottleneck, (3, 4, 23, 3), 64),
    "resnet152": (TVBottleneck, (3, 8, 36, 3), 64),
    "wide_resnet50_2": (TVBottleneck, (3, 4, 6, 3), 128),
}


@pytest.mark.parametrize("arch", sorted(KNOWN_COUNTS))
def test_full_size_parameter_counts(arch):
    assert flax_parameter_count(build_architecture(arch), (64, 64, 3)) == KNOWN_COUNTS[arch]
    block, layers, width_per_group = TORCH_CONFIGS[arch]
    with torch.device("meta"):
        reference = TVResNet(block, layers, 1000, width_per_group=width_per_group)
    assert count_parameters(reference) == KNOWN_COUNTS[arch]


def test_full_size_output_shape():
    module = build_architecture("resnet18", num_classes=10)
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3))
    )
    assert out.shape == (2, 10) and out.dtype == jnp.float32


def test_bfloat16_forward_close_to_float32(rng):
    module, torch_model = tiny_pair("bottleneck")
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    variables = check_against_module(
        module, get_converter("resnet50")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    reference = torch_logits(torch_model, imagenet_normalized(x))
    low_module = module.clone(dtype=jnp.bfloat16)
    low = np.asarray(jax.jit(lambda v, x: low_module.apply(v, x, train=False))(variables, x))
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)


CNN_ARCHITECTURES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "alexnet",
    "vgg16",
    "vgg16_bn",
    "cifar_resnet18",
    "preact_resnet18",
    "wrn_28_10",
    "wrn_34_10",
    "wrn_70_16",
    "dm_wrn_28_10",
    "dm_wrn_70_16",
)


@pytest.mark.parametrize("arch", CNN_ARCHITECTURES)
def test_architecture_and_converter_registered(arch):
    assert arch in ARCHITECTURES
    assert callable(get_converter(arch))


def test_flax_module_path_joins_indices():
    assert flax_module_path("layer1.0.downsample.1") == "layer1_0/downsample_1"
    assert flax_module_path("layer.2.block.0.batchnorm_0") == "layer_2/block_0/batchnorm_0"
    assert flax_module_path("block1.layer.3.convShortcut") == "block1/layer_3/convShortcut"
    assert flax_module_path("features.28") == "features_28"


def test_train_mode_uses_batch_statistics_like_torch(rng):
    """``train=True`` normalises with batch statistics and updates running means with torch's momentum."""
    module, torch_model = tiny_pair("basic")
    x = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    variables = check_against_module(
        module, get_converter("resnet18")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    apply = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=["batch_stats"]))
    got, updates = apply(variables, x)
    torch_model.train()
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(imagenet_normalized(x).transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(updates["batch_stats"]["layer3_0"]["bn2"]["mean"]),
        torch_model.layer3[0].bn2.running_mean.numpy(),
        atol=1e-5,
        rtol=1e-5,
    )
