"""VOneResNet-50 against the re-written dicarlolab/vonenet reference (``torch_reference_brain.py``; no
installable upstream): a small random model converted to Flax reproduces its logits with noise off;
the noise is the reference's, explicit-key and reproducible."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax.errors import InvalidRngError

from alignjax.models import build_architecture
from alignjax.models.vonenet import VOneBlock as FlaxVOneBlock
from alignjax.models.vonenet import add_noise, gabor_bank
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module, strip_prefixes
from tests.models.helpers import (
    count_parameters,
    flax_logits,
    nhwc,
    normalized,
    numpy_state_dict,
    randomize,
    torch_logits,
)
from tests.models.torch_reference_brain import VOneBlock, VOneResNet50

SIZE = 64
VONE_MEAN = VONE_STD = (0.5, 0.5, 0.5)
TINY_TORCH = {"simple_channels": 8, "complex_channels": 8, "layers": (1, 1, 1, 1), "widths": (8, 16, 32, 64)}
TINY_FLAX = {"simple_channels": 8, "complex_channels": 8, "stage_sizes": (1, 1, 1, 1), "width": 8}
# sum(p.numel() for p in model.parameters()) of vonenet.VOneNet('resnet50'), the two fixed Gabor banks
# (2 x 512 x 3 x 25 x 25) included; 25,580,264 trainable.
FULL_PARAM_COUNT = 27_500_264


def _tiny_pair(seed: int = 0, **flax_kwargs):
    module = build_architecture("voneresnet50", num_classes=10, **TINY_FLAX, **flax_kwargs)
    calibration = np.random.default_rng(seed).uniform(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    reference = VOneResNet50(num_classes=10, **TINY_TORCH, seed=seed)
    randomize(reference, normalized(calibration, VONE_MEAN, VONE_STD), seed=seed, keep=("simple_conv_q",))
    state = {f"module.{k}": v for k, v in numpy_state_dict(reference).items()}
    state["module.vone_block.div_u.weight"] = np.zeros((1,), np.float32)  # as in voneresnet50_at
    flat = get_converter("voneresnet50")(strip_prefixes(state))
    return module, check_against_module(module, flat, (SIZE, SIZE, 3)), reference


@pytest.fixture(scope="module")
def tiny():
    return _tiny_pair()


def _images(rng, n=2):
    return rng.uniform(size=(n, SIZE, SIZE, 3)).astype(np.float32)


def test_noise_off_matches_torch_and_is_deterministic(tiny, rng):
    module, variables, reference = tiny
    x = _images(rng)
    apply = jax.jit(lambda v, x: module.apply(v, x, train=False))
    logits = np.asarray(apply(variables, x))
    assert logits.dtype == np.float32 and logits.shape == (2, 10)
    expected = torch_logits(reference, normalized(x, VONE_MEAN, VONE_STD))
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(np.asarray(apply(variables, x)), logits)


def test_noise_on_needs_a_key_and_is_reproducible(tiny, rng):
    module, variables, _ = tiny
    noisy = module.clone(noise_mode="neuronal")
    apply = jax.jit(lambda v, x, key: noisy.apply(v, x, train=False, rngs={"noise": key}))
    x = _images(rng)
    first = np.asarray(apply(variables, x, jax.random.key(1)))
    again = np.asarray(apply(variables, x, jax.random.key(1)))
    other = np.asarray(apply(variables, x, jax.random.key(2)))
    np.testing.assert_array_equal(first, again)
    assert np.max(np.abs(first - other)) > 1e-3
    clean = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))
    assert np.max(np.abs(first - clean)) > 1e-3
    with pytest.raises(InvalidRngError, match="noise"):
        jax.eval_shape(lambda v, x: noisy.apply(v, x, train=False), variables, x)


@pytest.mark.parametrize("mode", ["neuronal", "gaussian"])
def test_noise_maths_matches_reference(mode, rng):
    block = VOneBlock(4, 4, ksize=7, stride=2, noise_mode=mode)
    x = torch.from_numpy(rng.normal(size=(2, 3, 16, 16)).astype(np.float32))
    with torch.no_grad():
        activations = block.gabors_f(x)
        block.fixed_noise = torch.from_numpy(rng.normal(size=tuple(activations.shape)).astype(np.float32))
        expected = block.noise_f(activations.clone())
    got = jax.nn.relu(
        add_noise(
            jnp.asarray(nhwc(activations)),
            jnp.asarray(nhwc(block.fixed_noise)),
            mode,
            0.35,
            0.07,
        )
    )
    np.testing.assert_allclose(np.asarray(got), nhwc(expected), atol=1e-5, rtol=1e-5)


def test_gradient_is_finite_on_a_flat_image():
    block = FlaxVOneBlock(4, 4, ksize=7, stride=2)
    zeros = jnp.zeros((1, 16, 16, 3), jnp.float32)  # a normalised grey image: q0 = q1 = 0 everywhere
    variables = block.init(jax.random.key(0), zeros)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(block.apply(variables, x))))(zeros)
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_initial_gabor_bank_reads_one_colour_channel_per_filter():
    bank = gabor_bank(16, 25, quadrature=0)
    assert bank.shape == (25, 25, 3, 16)
    assert np.all((np.abs(bank).sum(axis=(0, 1)) > 0).sum(axis=0) == 1)


def test_full_size_parameter_count():
    module = build_architecture("voneresnet50")
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 224, 224, 3)))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))
    assert count == FULL_PARAM_COUNT == count_parameters(VOneResNet50())


def test_bfloat16_forward_is_close_to_float32(tiny, rng):
    module, variables, _ = tiny
    x = _images(rng)
    reference = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    np.testing.assert_allclose(low, reference, atol=0.05 * float(np.abs(reference).max()))
