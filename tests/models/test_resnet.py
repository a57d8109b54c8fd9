"""torchvision ResNets beyond the full-size upstream comparison (``test_upstream.py``): the back end,
strict checks, bfloat16 and train-mode BatchNorm, against torchvision's own modules at small depth."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import ARCHITECTURES, build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.keymaps.torchvision_cnn import flax_module_path
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    flax_logits,
    nchw,
    normalized,
    numpy_state_dict,
    randomize,
    torch_logits,
    torchvision_models,
)

# (torch block name, stage sizes) of small torchvision ResNets, built with torchvision's own classes
SMALL = {"basic": ("BasicBlock", (2, 1, 1, 1)), "bottleneck": ("Bottleneck", (1, 1, 1, 1))}


def imagenet_input(x: np.ndarray) -> np.ndarray:
    return normalized(x, IMAGENET_MEAN, IMAGENET_STD)


def small_pair(kind: str, num_classes: int = 7, seed: int = 0):
    """A randomised torchvision ResNet with few blocks, and the kwargs that make its registered Flax
    architecture the same network."""
    resnet = torchvision_models().resnet
    block, stage_sizes = SMALL[kind]
    model = resnet.ResNet(getattr(resnet, block), list(stage_sizes), num_classes=num_classes)
    calibration = np.random.default_rng(seed).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    randomize(model, imagenet_input(calibration), seed=seed)
    return model, {"stage_sizes": stage_sizes, "num_classes": num_classes}


def test_back_end_matches_torchvision_layers_to_fc(rng):
    """``stem=False`` is torchvision's layer1 ... fc on a feature map, without normalisation."""
    model, _ = small_pair("bottleneck", num_classes=5, seed=1)
    state_dict = {k: v for k, v in numpy_state_dict(model).items() if not k.startswith(("conv1.", "bn1."))}
    module = build_architecture("resnet50", stage_sizes=(1, 1, 1, 1), num_classes=5, stem=False)
    features = rng.normal(size=(2, 16, 16, 64)).astype(np.float32)
    variables = check_against_module(module, get_converter("resnet50")(state_dict), features.shape[1:])
    with torch.no_grad():
        hidden = model.layer4(model.layer3(model.layer2(model.layer1(nchw(features)))))
        expected = model.fc(torch.flatten(model.avgpool(hidden), 1)).numpy()
    np.testing.assert_allclose(flax_logits(module, variables, features), expected, atol=1e-4, rtol=0)


def test_resnet50_back_end_variables_are_torchvisions_minus_the_stem():
    back_end = jax.eval_shape(
        lambda x: build_architecture("resnet50", stem=False).init(jax.random.key(0), x),
        jnp.zeros((1, 56, 56, 64)),
    )
    full = jax.eval_shape(
        lambda x: build_architecture("resnet50").init(jax.random.key(0), x), jnp.zeros((1, 64, 64, 3))
    )
    assert set(full["params"]) - set(back_end["params"]) == {"conv1", "bn1"}
    assert set(back_end["params"]) == {
        f"layer{s}_{i}" for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for i in range(n)
    } | {"fc"}


def test_strict_check_names_missing_unexpected_and_misshaped():
    model, kwargs = small_pair("basic")
    module = build_architecture("resnet18", **kwargs)
    state_dict = numpy_state_dict(model)
    del state_dict["layer2.0.bn1.running_var"]
    state_dict["layer9.0.conv1.weight"] = np.zeros((8, 8, 3, 3), np.float32)
    state_dict["fc.weight"] = np.zeros((3, 512), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("resnet18")(state_dict), (64, 64, 3))
    message = str(info.value)
    assert "batch_stats/layer2_0/bn1/var" in message
    assert "params/layer9_0/conv1/kernel" in message
    assert "params/fc/kernel" in message


def test_unknown_torch_leaves_are_reported_not_dropped():
    model, kwargs = small_pair("basic")
    state_dict = numpy_state_dict(model) | {"fc.weight_g": np.zeros((7,), np.float32)}
    with pytest.raises(CheckpointMismatchError, match="fc.weight_g"):
        check_against_module(
            build_architecture("resnet18", **kwargs), get_converter("resnet18")(state_dict), (64, 64, 3)
        )


def test_full_size_output_shape():
    module = build_architecture("resnet18", num_classes=10)
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3))
    )
    assert out.shape == (2, 10) and out.dtype == jnp.float32


def test_bfloat16_forward_close_to_float32(rng):
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    model, kwargs = small_pair("bottleneck")
    module = build_architecture("resnet50", **kwargs)
    variables = check_against_module(module, get_converter("resnet50")(numpy_state_dict(model)), x.shape[1:])
    reference = torch_logits(model, imagenet_input(x))
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
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
    "preact_resnet18_v2_bn",
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
    x = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    model, kwargs = small_pair("basic")
    module = build_architecture("resnet18", **kwargs)
    variables = check_against_module(module, get_converter("resnet18")(numpy_state_dict(model)), x.shape[1:])
    apply = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=["batch_stats"]))
    got, updates = apply(variables, x)
    model.train()
    with torch.no_grad():
        expected = model(nchw(imagenet_input(x))).numpy()
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(updates["batch_stats"]["layer3_0"]["bn2"]["mean"]),
        model.layer3[0].bn2.running_mean.numpy(),
        atol=1e-5,
        rtol=1e-5,
    )
