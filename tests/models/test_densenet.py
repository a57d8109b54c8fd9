"""DenseNet beyond the full-size upstream comparison (``test_upstream.py``): logits and input gradients
of small torchvision DenseNets (torchvision's own ``DenseNet`` class), an odd input size, the old
``norm.1`` / ``conv.1`` names of torchvision's released files, and full-size output shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    normalized,
    numpy_state_dict,
    randomize,
    torchvision_models,
)

_SMALL = {"growth_rate": 8, "block_config": (2, 1, 1, 2), "num_init_features": 16, "num_classes": 10}


def small_torchvision():
    return torchvision_models().densenet.DenseNet(**_SMALL)


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
def test_small_densenet_logits_and_input_gradient_match_torchvision(shape):
    model = small_torchvision()
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "densenet121", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **_SMALL
    )


def test_released_files_old_layer_names_convert_like_the_new_ones():
    """torchvision's ``densenet*-*.pth`` name dense layers ``norm.1``, ``conv.1``, ``norm.2``, ``conv.2``;
    the converter renames them as torchvision's ``_load_state_dict`` does, and strips ``module.``."""
    state = numpy_state_dict(small_torchvision())
    old = {}
    for name, value in state.items():
        for new_name in ("norm1", "conv1", "norm2", "conv2"):
            if ".denselayer" in name and f".{new_name}." in name:
                name = name.replace(f".{new_name}.", f".{new_name[:-1]}.{new_name[-1]}.")
        old[name] = value
    assert "features.denseblock1.denselayer2.norm.1.running_var" in old
    assert "features.transition1.norm.weight" in old and "features.norm5.weight" in old
    converter = get_converter("densenet121")
    expected = converter(state)
    for variant in (old, {f"module.{k}": v for k, v in old.items()}):
        got = converter(variant)
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
    assert expected["params/features/denseblock1/denselayer2/conv1/kernel"].shape == (1, 1, 24, 32)


def test_full_size_output_shape():
    """DenseNet-161 (growth 48, 96 initial features; the others' shapes are checked by the parameter counts)."""
    module = build_architecture("densenet161", num_classes=10)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 10) and out.dtype == jnp.float32
