"""torchvision AlexNet and VGG-16 (with/without BN): adaptive pooling, equal logits, strict checks, counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.alexnet import AlexNet, adaptive_avg_pool
from alignjax.models.vgg import VGG
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.torch_reference_cnns import (
    TVVGG,
    VGG16_CFG,
    TVAlexNet,
    convert_and_compare,
    count_parameters,
    flax_parameter_count,
    imagenet_normalized,
    numpy_state_dict,
    randomize,
    torch_logits,
)

TINY_ALEXNET_WIDTHS = (8, 16, 16, 16, 16)
TINY_VGG_STAGES = ((8, 8), (16, 16), (16, 16, 16), (32, 32, 32), (32, 32, 32))
TINY_VGG_CFG = [8, 8, "M", 16, 16, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M"]


@pytest.mark.parametrize(
    ("size", "output"),
    [((13, 13), (6, 6)), ((10, 5), (7, 7)), ((7, 7), (7, 7)), ((1, 2), (6, 6)), ((14, 9), (7, 3))],
)
def test_adaptive_avg_pool_matches_torch(size, output, rng):
    x = rng.normal(size=(2, *size, 3)).astype(np.float32)
    expected = torch.nn.functional.adaptive_avg_pool2d(
        torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), output
    )
    got = np.asarray(adaptive_avg_pool(jnp.asarray(x), output))
    np.testing.assert_allclose(got, expected.numpy().transpose(0, 2, 3, 1), atol=1e-6, rtol=1e-6)


def test_tiny_alexnet_matches_torch(rng):
    torch_model = randomize(TVAlexNet(num_classes=7, widths=TINY_ALEXNET_WIDTHS, hidden=32), seed=0)
    module = AlexNet(num_classes=7, widths=TINY_ALEXNET_WIDTHS, hidden=32)
    # 95x95 leaves 2x2 features, which the (6, 6) adaptive pool spreads over overlapping bins.
    x = rng.uniform(size=(2, 95, 95, 3)).astype(np.float32)
    convert_and_compare(module, torch_model, x, "alexnet", torch_input=imagenet_normalized)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["vgg16", "vgg16_bn"])
def test_tiny_vgg_matches_torch(batch_norm, rng):
    torch_model = randomize(TVVGG(TINY_VGG_CFG, batch_norm=batch_norm, num_classes=7, hidden=32), seed=1)
    module = VGG(num_classes=7, stages=TINY_VGG_STAGES, batch_norm=batch_norm, hidden=32)
    x = rng.uniform(size=(2, 64, 64, 3)).astype(np.float32)  # 2x2 features -> (7, 7)
    arch = "vgg16_bn" if batch_norm else "vgg16"
    convert_and_compare(module, torch_model, x, arch, torch_input=imagenet_normalized)


def test_vgg_bn_features_use_torch_indices():
    module = VGG(stages=TINY_VGG_STAGES, batch_norm=True, hidden=32)
    torch_names = {k.rsplit(".", 1)[0] for k in TVVGG(TINY_VGG_CFG, batch_norm=True, hidden=32).state_dict()}
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 32, 32, 3)))
    assert set(shapes["params"]) == {name.replace(".", "_") for name in torch_names}


def test_strict_check_names_missing_unexpected_and_misshaped():
    torch_model = TVVGG(TINY_VGG_CFG, batch_norm=False, num_classes=7, hidden=32)
    module = VGG(num_classes=7, stages=TINY_VGG_STAGES, hidden=32)
    state_dict = numpy_state_dict(torch_model)
    del state_dict["features.2.bias"]
    state_dict["features.99.weight"] = np.zeros((8, 8, 3, 3), np.float32)
    state_dict["classifier.3.weight"] = np.zeros((32, 31), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("vgg16")(state_dict), (32, 32, 3))
    message = str(info.value)
    for name in ("params/features_2/bias", "params/features_99/kernel", "params/classifier_3/kernel"):
        assert name in message


KNOWN_COUNTS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "vgg16_bn": 138_365_992}


@pytest.mark.parametrize("arch", sorted(KNOWN_COUNTS))
def test_full_size_parameter_counts(arch):
    assert flax_parameter_count(build_architecture(arch), (224, 224, 3)) == KNOWN_COUNTS[arch]
    with torch.device("meta"):
        reference = TVAlexNet() if arch == "alexnet" else TVVGG(VGG16_CFG, batch_norm=arch == "vgg16_bn")
    assert count_parameters(reference) == KNOWN_COUNTS[arch]


@pytest.mark.parametrize("arch", sorted(KNOWN_COUNTS))
def test_full_size_accepts_other_input_sizes(arch):
    """The adaptive pool keeps the classifier's input size fixed, as in torchvision."""
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 160, 200, 3))
    )
    assert out.shape == (2, 10) and out.dtype == jnp.float32


def test_bfloat16_forward_close_to_float32(rng):
    torch_model = randomize(TVVGG(TINY_VGG_CFG, batch_norm=True, num_classes=7, hidden=32), seed=2)
    module = VGG(num_classes=7, stages=TINY_VGG_STAGES, batch_norm=True, hidden=32, dtype=jnp.bfloat16)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    variables = check_against_module(
        module, get_converter("vgg16_bn")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    reference = torch_logits(torch_model, imagenet_normalized(x))
    low = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
