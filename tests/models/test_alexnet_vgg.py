"""torchvision AlexNet and VGG-16 (with/without BN) beyond the full-size upstream comparison
(``test_upstream.py``): the adaptive pool, torch's module indices, other input sizes, bfloat16."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.alexnet import adaptive_avg_pool
from alignjax.models.vgg import VGG
from tests.models.helpers import flax_logits, random_variables, torchvision_models

SMALL_VGG_STAGES = ((8, 8), (16, 16), (16, 16, 16), (32, 32, 32), (32, 32, 32))


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


def test_vgg_bn_features_use_torch_indices():
    with torch.device("meta"):
        reference = torchvision_models().vgg16_bn()
    torch_names = {name.rsplit(".", 1)[0] for name in reference.state_dict()}
    module = build_architecture("vgg16_bn")
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 32, 32, 3)))
    assert set(shapes["params"]) == {name.replace(".", "_") for name in torch_names}


@pytest.mark.parametrize("arch", ["alexnet", "vgg16", "vgg16_bn"])
def test_full_size_accepts_other_input_sizes(arch):
    """The adaptive pool keeps the classifier's input size fixed, as in torchvision."""
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 160, 200, 3))
    )
    assert out.shape == (2, 10) and out.dtype == jnp.float32


def test_bfloat16_forward_close_to_float32(rng):
    module = VGG(num_classes=7, stages=SMALL_VGG_STAGES, batch_norm=True, hidden=32)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    variables = random_variables(module, x.shape[1:])
    reference = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
