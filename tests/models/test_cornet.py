"""CORnet-Z / CORnet-S against the re-written dicarlolab reference (``torch_reference_brain.py``; no
installable upstream): small random models converted to Flax reproduce its logits in eval mode; full
sizes match its parameter counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module, strip_prefixes
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    count_parameters,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    torch_logits,
)
from tests.models.torch_reference_brain import CORnetS, CORnetZ

TINY_WIDTHS = (8, 16, 32, 64)
SIZE = 64
REFERENCES = {"cornet_z": CORnetZ, "cornet_s": CORnetS}
# sum(p.numel() for p in CORnet_*().parameters()) of dicarlolab/CORnet@d0cc17d (BatchNorm buffers excluded).
FULL_PARAM_COUNTS = {"cornet_z": 2_071_656, "cornet_s": 53_416_616}


def _tiny_pair(arch: str, seed: int = 0, **sizes):
    module = build_architecture(arch, num_classes=10, widths=TINY_WIDTHS, **sizes)
    calibration = np.random.default_rng(seed).uniform(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    reference = REFERENCES[arch](widths=TINY_WIDTHS, num_classes=10, **sizes)
    randomize(reference, normalized(calibration, IMAGENET_MEAN, IMAGENET_STD), seed=seed)
    # the released checkpoints come from nn.DataParallel: exercise the prefix strip too
    state = strip_prefixes({f"module.{k}": v for k, v in numpy_state_dict(reference).items()})
    variables = check_against_module(module, get_converter(arch)(state), (SIZE, SIZE, 3))
    return module, variables, reference


@pytest.mark.parametrize("arch", sorted(REFERENCES))
def test_tiny_random_model_matches_torch(arch, rng):
    module, variables, reference = _tiny_pair(arch)
    x = rng.uniform(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    logits = flax_logits(module, variables, x)
    assert logits.dtype == np.float32 and logits.shape == (2, 10)
    expected = torch_logits(reference, normalized(x, module.mean, module.std))
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=0)


def test_cornet_s_shares_convs_across_time_steps():
    _, variables, _ = _tiny_pair("cornet_s")
    norms = sorted(["norm_skip"] + [f"norm{i}_{t}" for i in (1, 2, 3) for t in range(4)])
    params = variables["params"]["V4"]
    assert sorted(name for name in params if "kernel" in params[name]) == [
        "conv1",
        "conv2",
        "conv3",
        "conv_input",
        "skip",
    ]
    assert sorted(name for name in params if "scale" in params[name]) == norms
    assert sorted(variables["batch_stats"]["V4"]) == norms


@pytest.mark.parametrize("arch", sorted(REFERENCES))
def test_full_size_parameter_count(arch):
    module = build_architecture(arch)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), jnp.zeros((1, 224, 224, 3)))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))
    assert count == FULL_PARAM_COUNTS[arch] == count_parameters(REFERENCES[arch]())


def test_bfloat16_forward_is_close_to_float32(rng):
    module, variables, _ = _tiny_pair("cornet_s", times=(2, 1, 1))  # fewer steps: faster to compile
    x = rng.uniform(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    reference = flax_logits(module, variables, x)
    low = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
    assert low.dtype == np.float32
    np.testing.assert_allclose(low, reference, atol=0.05 * float(np.abs(reference).max()))
