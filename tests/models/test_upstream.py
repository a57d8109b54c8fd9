"""Every registered architecture against its upstream torch module (``references.UPSTREAM``).

Full-size upstream modules (torchvision, timm, pyautoattack, RobustBench) with seeded random weights
and randomised BatchNorm statistics, converted through ``alignjax.weights.convert.convert_state_dict``
(the registered key map and the strict check), must give the same eval-mode float32 logits within
1e-4 absolute (highest matmul precision, TF32 off), with logits scaled to unit standard deviation
(``helpers.randomize``). ResNet-152 (``-m slow``) is the one net whose upstream float32 logits are
themselves ~1.1e-4 from its float64 ones; where that happens the Flax logits must be as close to the
float64 logits as upstream's float32 ones are (``helpers.compare_with_upstream``). The Flax logits come
from one jitted program that also takes the input gradient of a fixed linear read-out, which must be
finite, non-zero at more than half of the input and within cosine 0.999 of upstream's (elementwise
equality is not a sound test there: ``helpers._check_input_gradient``); at an architecture's real input
size this is its real-size gradient check (``test_every_architecture_attackable.REAL_SIZE_UPSTREAM``).
Parameter counts are compared at full size for every architecture.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from alignjax.models import ARCHITECTURES, build_architecture
from tests.models import torch_reference_robustbench
from tests.models.helpers import (
    ROBUSTBENCH_INSTALL,
    build_uninitialised,
    compare_with_upstream,
    count_parameters,
    flax_parameter_count,
    normalized,
    randomize,
    robustbench_architecture,
    robustbench_file,
    torch_logits,
)
from tests.models.references import OWN, REWRITTEN, UPSTREAM


def _params(names):
    return [pytest.param(name, marks=pytest.mark.slow) if UPSTREAM[name].slow else name for name in names]


def test_every_architecture_has_a_reference():
    """A new architecture needs an upstream reference here (or a reason why it has none)."""
    covered = set(UPSTREAM) | REWRITTEN | OWN
    assert not set(UPSTREAM) & (REWRITTEN | OWN)
    assert set(ARCHITECTURES) - covered == set(), "architectures without a reference"
    assert covered - set(ARCHITECTURES) == set(), "references of unregistered architectures"


def upstream_input(arch: str):
    """The comparison's NHWC images in [0, 1] and the map to what the upstream module takes."""
    reference = UPSTREAM[arch]
    size = reference.input_size
    x = np.random.default_rng(0).uniform(size=(reference.batch, size, size, 3)).astype(np.float32)
    if reference.mean is None:
        return x, None
    return x, functools.partial(normalized, mean=reference.mean, std=reference.std)


@pytest.mark.parametrize("arch", _params(sorted(UPSTREAM)))
def test_full_size_matches_upstream(arch):
    x, torch_input = upstream_input(arch)
    model = randomize(
        build_uninitialised(UPSTREAM[arch].build), x if torch_input is None else torch_input(x), seed=1
    )
    compare_with_upstream(arch, model, x, torch_input=torch_input, input_gradient=True)


@pytest.mark.parametrize("arch", sorted(UPSTREAM))
def test_full_size_parameter_count_equals_upstream(arch):
    reference = UPSTREAM[arch]
    with torch.device("meta"):
        expected = count_parameters(reference.build())
    shape = (reference.input_size, reference.input_size, 3)
    assert flax_parameter_count(build_architecture(arch), shape) == expected, reference.source


# RobustBench constructors the zoo's CIFAR architectures and their tests use, as (file, construct)
ROBUSTBENCH_CONSTRUCTORS = {
    "PreActResNet18": ("resnet", lambda m: m.PreActResNet18()),
    "PreActResNet-V2-bn": (
        "resnet",
        lambda m: m.PreActResNet(m.PreActBlockV2, [1, 1, 1, 1], bn_before_fc=True),
    ),
    "PreActResNet-out_shortcut-bn": (
        "resnet",
        lambda m: m.PreActResNet(m.PreActBlock, [1, 1, 1, 1], bn_before_fc=True, out_shortcut=True),
    ),
    "WideResNet-10-1": ("wide_resnet", lambda m: m.WideResNet(10, widen_factor=1)),
    "WideResNet-16-2-sub_block1-no_bias": (
        "wide_resnet",
        lambda m: m.WideResNet(16, widen_factor=2, sub_block1=True, bias_last=False),
    ),
    "DMWideResNet-16-2-swish-padding": (
        "dm_wide_resnet",
        lambda m: m.DMWideResNet(depth=16, width=2, activation_fn=m.Swish, padding=2),
    ),
    "DMWideResNet-10-1-relu": ("dm_wide_resnet", lambda m: m.DMWideResNet(depth=10, width=1)),
}


@pytest.mark.skipif(
    robustbench_file("resnet") is None, reason=f"RobustBench not installed: {ROBUSTBENCH_INSTALL}"
)
@pytest.mark.parametrize("constructor", sorted(ROBUSTBENCH_CONSTRUCTORS))
def test_rewritten_robustbench_reference_equals_upstream(constructor):
    """Where RobustBench is installed, the stand-in used without it has upstream's state dict and logits."""
    file, construct = ROBUSTBENCH_CONSTRUCTORS[constructor]
    size = 28 if "padding" in constructor else 32  # padded to 32x32 inside
    x = np.random.default_rng(0).uniform(size=(2, size, size, 3)).astype(np.float32)
    upstream = randomize(construct(robustbench_architecture(file)), x, seed=5)
    rewritten = construct(torch_reference_robustbench).eval()
    rewritten.load_state_dict(upstream.state_dict(), strict=True)
    np.testing.assert_array_equal(torch_logits(rewritten, x), torch_logits(upstream, x))
