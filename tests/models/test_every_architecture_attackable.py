"""Every registered architecture can be attacked: what the attacks compile of it (clean pass, input
gradient, FAB's Jacobian) works under jit, AutoAttack's four standard attacks run on it under the
cascade's jit, and its input gradient at its real input size is finite and non-zero.

Why: ``jax.grad`` of a model can work eagerly and still fail under ``jax.jit`` (a ``reduce_window``
with a traced init value has no reverse rule there: every CIFAR model failed that way, issue 8), and
nothing but a jitted gradient shows it. Each architecture of ``ARCHITECTURES`` needs an entry in
``SMALL`` and ``REAL_INPUT`` below: registering an architecture without one fails
``test_every_registered_architecture_has_an_entry`` (and its parametrised cases), so a new
architecture cannot reach CI untested.

- ``test_small_model_under_jit`` (every architecture but ``ATTACK_SLOW``'s): the architecture's
  registered builder with small widths/depths (``SMALL``: same blocks, same code paths, fewer and
  narrower), random weights and BatchNorm statistics, 4 random images labelled with its own
  predictions. Checked under ``jax.jit``, with XLA's default optimisations: the clean pass and the
  cross-entropy input gradient (one program), the gradient finite and non-zero at every point (what APGD,
  targeted FAB and the checks differentiate); untargeted FAB's logit-difference Jacobian (``vmap`` of the model's
  pullback over classes, the batching rule stacked runs need too), finite, zero in the own class'
  row, and consistent with the gradient: their softmax-weighted sum is the cross-entropy gradient.
- ``test_attacks_run_under_the_cascade_jit``: the same small models, then APGD-CE, APGD-T, FAB-T and
  Square (3 iterations, 9 targets, 10 queries) through ``run_autoattack`` in individual mode, so every
  attack runs on every point through the engine's compiled programs. Checked: every attack finishes;
  adversarial points lie in the Linf ball and in [0, 1], points counted robust come back unchanged,
  points counted broken are misclassified; the white-box attacks break at least one point at this
  large radius. By default for two architectures (``ATTACK_DEFAULT``): VOneResNet-50 (the VOneBlock
  front end on ResNet-50's BatchNorm bottlenecks) and a CLIP ViT (attention); the digits CNN is attacked
  by the parity tests, every other architecture with ``-m slow``. The model-specific part of an attack program
  is the model's forward pass and its gradient under jit, which the test above checks for every
  architecture; the rest of the program is the same for all models.
- ``test_input_gradient_at_real_size``: the builder's default (full-size) model at its real input
  size (224x224 ImageNet, 32x32 CIFAR, 8x8 digits), batch 1, random weights:
  ``jax.jit(jax.grad(...))`` of a fixed linear function of the logits is finite and non-zero at
  more than half of the input pixels. By default for the architectures whose full-size comparison
  with upstream does not already check that at the real input size (``REAL_SIZE_UPSTREAM``:
  ``test_upstream.py`` compiles their logits and input gradient as one program and also compares the
  gradient's direction with upstream's).

CI cost and stability. No ``jax_disable_most_optimizations`` and no persistent compilation cache here:
with either, a worker of the full suite segfaulted or aborted inside jaxlib while compiling or caching
this module's programs (2026-12-07: four full runs, torch 2.13 CPU and 2.14 alike, never when the
module ran alone). Running the four attacks on every architecture made this module about 33
CPU-minutes of the suite; the per-architecture jit checks brought it to about 15, and leaving variants
whose programs a sibling already compiles to ``-m slow`` (``ATTACK_SLOW``, ``REAL_SIZE_SLOW``) to about 10;
compiling the small model's gradient and Jacobian as one program and leaving the real-size gradients
that ``test_upstream.py`` checks to it, to about 4 (2026-12-08).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.attacks import APGDConfig, FABConfig, SquareConfig, run_autoattack
from alignjax.attacks.engine.cascade import clean_predictions
from alignjax.attacks.fab import _logit_differences
from alignjax.attacks.losses import cross_entropy
from alignjax.models import ARCHITECTURES, build_architecture
from alignjax.models.module_logits import logits_fn_for
from tests.models import families
from tests.models.random_variables import random_variables
from tests.models.references import UPSTREAM

CIFAR = (32, 32, 3)
IMAGENET = (224, 224, 3)
DIGITS = (8, 8, 1)

_RESNET = {"width": 8, "stage_sizes": (1, 1, 1, 1)}
_CONVNEXT = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}
_VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
_CIFAR_RESNET = {"widths": (8, 16, 32, 64), "stage_sizes": (1, 1, 1, 1)}
_VGG = {"stages": ((8,), (16,), (16,), (32,), (32,)), "hidden": 32}

# architecture -> (builder options that make it small, input shape of the small model)
SMALL: dict[str, tuple[dict, tuple[int, int, int]]] = {
    "small_cnn": ({}, DIGITS),
    "cifar_resnet18": (_CIFAR_RESNET, CIFAR),
    "preact_resnet18": (_CIFAR_RESNET, CIFAR),
    "preact_resnet18_v2_bn": (_CIFAR_RESNET, CIFAR),
    "wrn_28_10": ({"depth": 10, "widen_factor": 1}, CIFAR),
    "wrn_34_10": ({"depth": 10, "widen_factor": 1}, CIFAR),
    "wrn_70_16": ({"depth": 10, "widen_factor": 1}, CIFAR),
    "dm_wrn_28_10": ({"depth": 10, "width": 1}, CIFAR),
    "dm_wrn_70_16": ({"depth": 10, "width": 1}, CIFAR),
    "resnet18": (_RESNET, CIFAR),
    "resnet34": (_RESNET, CIFAR),
    "resnet50": (_RESNET, CIFAR),
    "resnet101": (_RESNET, CIFAR),
    "resnet152": (_RESNET, CIFAR),
    "wide_resnet50_2": (_RESNET, CIFAR),
    "alexnet": ({"widths": (8, 16, 16, 16, 16), "hidden": 32}, (64, 64, 3)),
    "vgg16": (_VGG, CIFAR),
    "vgg16_bn": (_VGG, CIFAR),
    "convnext_tiny": (_CONVNEXT, CIFAR),
    "convnext_small": (_CONVNEXT, CIFAR),
    "convnext_base": (_CONVNEXT, CIFAR),
    "vit_small_patch16_224": (_VIT, CIFAR),
    "vit_base_patch16_224": (_VIT, CIFAR),
    "deit_tiny_patch16_224": (_VIT, CIFAR),
    "deit_small_patch16_224": (_VIT, CIFAR),
    "deit_base_patch16_224": (_VIT, CIFAR),
    "deit_base_distilled_patch16_224": (_VIT, CIFAR),
    "cornet_z": ({"widths": (8, 16, 32, 64)}, (64, 64, 3)),
    "cornet_s": ({"widths": (8, 16, 32, 64), "times": (1, 2, 1)}, (64, 64, 3)),
    # 7x7 Gabor kernels instead of 25x25: the same code, and unoptimised XLA runs 25x25 kernels slowly
    "voneresnet50": (
        {"simple_channels": 8, "complex_channels": 8, "ksize": 7, "stage_sizes": (1, 1, 1, 1), "width": 8},
        (64, 64, 3),
    ),
}

SMALL.update(families.collect("SMALL"))

# architecture -> the input shape its published checkpoints take
REAL_INPUT: dict[str, tuple[int, int, int]] = {
    **{arch: IMAGENET for arch in SMALL},
    "small_cnn": DIGITS,
    **{arch: CIFAR for arch in SMALL if arch.startswith(("cifar_", "preact_", "wrn_", "dm_wrn_"))},
    **families.collect("REAL_INPUT"),
}
# the largest variants: their full-size gradient check runs with -m slow (their family's smaller ones by default)
REAL_SIZE_SLOW = frozenset(families.collect("REAL_SIZE_SLOW")) | {
    "convnext_small", "convnext_base",  # convnext_tiny's blocks at real size, 30 s each (tiny: 16 s)
    "resnet34",  # resnet18's basic blocks at real size, deeper
    "resnet101", "resnet152", "wide_resnet50_2",  # resnet50's bottlenecks at real size, deeper or wider
    "wrn_34_10", "wrn_70_16",  # wrn_28_10's blocks at real size, deeper and wider
    "dm_wrn_70_16",  # dm_wrn_28_10's blocks at real size, deeper and wider
    # vit_small_patch16_224's encoder at 224 (patch 16, 197 tokens), wider; the distilled DeiT stays
    "vit_base_patch16_224", "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
}
# architectures whose full-size comparison with upstream runs by default at their real input size: it
# compiles the logits and the input gradient as one program and checks that gradient (finite, non-zero
# at more than half of the input, and equal in direction to upstream's: ``tests/models/test_upstream.py``),
# so the real-size check here runs for them with -m slow
REAL_SIZE_UPSTREAM = frozenset(
    arch for arch, reference in UPSTREAM.items()
    if not reference.slow and REAL_INPUT.get(arch) == (reference.input_size, reference.input_size, 3)
)
# variants whose small model is the same program as a sibling's that runs by default (same blocks, the
# SMALL options override every size; at most a constant differs: normalisation statistics, LayerNorm eps):
# their small-model checks add nothing but CI time, so they run with -m slow
ATTACK_SLOW = frozenset(families.collect("ATTACK_SLOW")) | {
    "resnet34",  # resnet18's
    "resnet101", "resnet152",  # resnet50's
    "wrn_34_10", "wrn_70_16",  # wrn_28_10's
    "dm_wrn_70_16",  # dm_wrn_28_10's
    "vit_base_patch16_224",  # vit_small_patch16_224's
    "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",  # the same, ImageNet mean/std
    "convnext_small", "convnext_base", "convnext_large", "convnext_xlarge",  # convnext_tiny's
    "convnext_xxlarge",  # convnext_tiny's, LayerNorm eps 1e-5 and CLIP mean/std (test_convnext.py: against timm)
}
# the architectures whose small models run the four attacks by default (every other one with -m slow):
# a convolutional and an attention network, chosen for cheap compiles
ATTACK_DEFAULT = frozenset({
    # the VOneBlock (fixed Gabor filters, simple and complex cells) on ResNet-50's back end: BatchNorm
    # (eval mode), bottleneck blocks, strided shortcuts
    "voneresnet50",
    "vit_base_patch32_clip_224",  # attention, LayerNorm, class token, CLIP's pre-norm
})
# small random-weight models too insensitive to their input for 3 attack steps to flip a point (their
# logits move ~1e-3 across inputs against a 1e-2 margin): every other check still runs on them
UNBREAKABLE_WHEN_RANDOM = frozenset(families.collect("UNBREAKABLE_WHEN_RANDOM"))

EPS = 0.25  # large on purpose: random-weight models must lose points to the white-box attacks
N_POINTS = 4
ATTACKS = (
    APGDConfig("Linf", EPS, n_iter=3, loss="ce"),
    APGDConfig("Linf", EPS, n_iter=3, loss="dlr-targeted", n_target_classes=9),
    FABConfig("Linf", EPS, n_iter=3, n_restarts=1, targeted=True, n_target_classes=9),
    SquareConfig("Linf", EPS, n_queries=10),
)


def test_every_registered_architecture_has_an_entry():
    missing = sorted(set(ARCHITECTURES) - set(SMALL))
    assert not missing, (
        f"architectures without an attackability entry: {missing}; add small builder options to SMALL "
        f"and the real input shape to REAL_INPUT in {__name__.replace('.', '/')}.py"
    )
    assert not sorted(set(SMALL) - set(ARCHITECTURES)), "SMALL names architectures that are not registered"
    assert set(REAL_INPUT) == set(SMALL)
    assert ATTACK_DEFAULT <= set(SMALL) - ATTACK_SLOW
    assert REAL_SIZE_UPSTREAM and REAL_SIZE_UPSTREAM <= set(SMALL)
    for arch in ATTACK_SLOW:  # a default-run sibling runs the same small program
        assert any(SMALL[other] == SMALL[arch] for other in set(SMALL) - ATTACK_SLOW), arch


def _logits_fn(module):
    """What ``alignjax.models.load`` gives: equal modules, one function (the engine's compiled programs
    of an architecture's small model are shared by the tests that build it)."""
    return logits_fn_for(module)


def _linf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).reshape(len(a), -1).max(axis=1)


def small_model_and_images(arch: str):
    """The architecture's small model and 4 random images: (logits function, variables, images)."""
    options, shape = SMALL[arch]
    module = build_architecture(arch, num_classes=10, **options)
    variables = random_variables(module, shape, seed=0)
    x = np.random.default_rng(1).uniform(size=(N_POINTS, *shape)).astype(np.float32)
    return _logits_fn(module), variables, x


def small_model(arch: str):
    """The architecture's small model: (logits function, variables, 4 images, labels = its predictions)."""
    logits_fn, variables, x = small_model_and_images(arch)
    y = predict(logits_fn, variables, x).argmax(axis=1).astype(np.int32)
    return logits_fn, variables, x, y


def predict(logits_fn, variables, images: np.ndarray) -> np.ndarray:
    """(n, classes) logits through the cascade's own compiled clean pass (cached per logits function)."""
    return clean_predictions(logits_fn, variables, images, batch_size=N_POINTS, key=jax.random.key(0))[0][0]


@pytest.mark.parametrize(
    "arch", [pytest.param(a, marks=pytest.mark.slow) if a in ATTACK_SLOW else a for a in sorted(ARCHITECTURES)]
)
def test_small_model_under_jit(arch):
    logits_fn, variables, x = small_model_and_images(arch)

    untargeted = FABConfig("Linf", EPS, targeted=False)

    def loss(images):  # labelled with the model's own predictions (all clean-correct, as in an attack)
        logits = logits_fn(variables, images)
        labels = jnp.argmax(jax.lax.stop_gradient(logits), axis=1)
        return jnp.sum(cross_entropy(logits, labels)), (logits, labels)

    def gradient_and_jacobian(images):  # one program: the forward pass is compiled once for both
        grad, (logits, labels) = jax.grad(loss, has_aux=True)(images)
        _, dg = _logit_differences(untargeted, logits_fn, variables, images, labels, labels)
        return grad, logits, labels, dg

    grad, logits, y, dg = jax.jit(gradient_and_jacobian)(x)
    grad, logits, y = np.asarray(grad), np.asarray(logits), np.asarray(y)
    assert np.isfinite(grad).all(), f"{arch}: non-finite input gradient under jit"
    per_point = np.abs(grad).reshape(N_POINTS, -1).max(axis=1)
    assert (per_point > 0).all(), f"{arch}: zero input gradient under jit for points {np.flatnonzero(per_point == 0)}"

    dg = np.asarray(dg, np.float64)
    assert dg.shape == (N_POINTS, 10, grad[0].size)
    assert np.isfinite(dg).all(), f"{arch}: non-finite Jacobian (vmap of the pullback) under jit"
    # the cross-entropy gradient is the softmax-weighted sum of the logit-difference gradients:
    # d/dx (logsumexp(z) - z_y) = sum_k p_k (dz_k/dx - dz_y/dx), the own-class row being zero
    scale = np.abs(dg).max()
    assert scale > 0, f"{arch}: zero Jacobian"
    np.testing.assert_allclose(dg[np.arange(N_POINTS), y], 0.0, atol=1e-5 * scale)
    probabilities = np.asarray(jax.nn.softmax(logits), np.float64)
    np.testing.assert_allclose(np.einsum("nk,nkd->nd", probabilities, dg), grad.reshape(N_POINTS, -1),
                               rtol=0, atol=1e-4 * scale)


@pytest.mark.parametrize(
    "arch", [a if a in ATTACK_DEFAULT else pytest.param(a, marks=pytest.mark.slow) for a in sorted(ARCHITECTURES)]
)
def test_attacks_run_under_the_cascade_jit(arch):
    logits_fn, variables, x, y = small_model(arch)
    result = run_autoattack(
        logits_fn, variables, x, y, attacks=ATTACKS, key=jax.random.key(0), batch_size=N_POINTS,
        individual=True, run_checks=False,
    )
    assert result.clean_correct.all()
    assert set(result.individual) == {"apgd-ce", "apgd-t", "fab-t", "square"}
    assert np.isfinite(result.x_adv).all()
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    assert (_linf(result.x_adv, x) <= EPS * (1 + 1e-5) + 1e-7).all()
    np.testing.assert_array_equal(result.x_adv[result.robust], x[result.robust])
    assert (predict(logits_fn, variables, result.x_adv).argmax(axis=1)[~result.robust] != y[~result.robust]).all()
    white_box_broken = sum(int((~result.individual[name]).sum()) for name in ("apgd-ce", "apgd-t", "fab-t"))
    assert white_box_broken > 0 or arch in UNBREAKABLE_WHEN_RANDOM, (
        f"{arch}: no white-box attack broke any point at Linf eps {EPS}")
    assert (result.n_queries > 0).all(), "Square spent no queries"


@pytest.mark.parametrize(
    "arch",
    [pytest.param(a, marks=pytest.mark.slow) if a in REAL_SIZE_SLOW | REAL_SIZE_UPSTREAM else a
     for a in sorted(ARCHITECTURES)],
)
def test_input_gradient_at_real_size(arch):
    shape = REAL_INPUT[arch]
    module = build_architecture(arch)
    variables = random_variables(module, shape, seed=0)
    logits_fn = _logits_fn(module)
    x = jnp.asarray(np.random.default_rng(1).uniform(size=(1, *shape)).astype(np.float32))

    def linear_readout(images, variables):
        logits = logits_fn(variables, images)
        weights = jnp.linspace(-1.0, 1.0, logits.shape[-1], dtype=jnp.float32)
        return jnp.sum(logits * weights[None, :])

    grad = np.asarray(jax.jit(jax.grad(linear_readout))(x, variables))
    assert grad.shape == x.shape
    assert np.isfinite(grad).all(), f"{arch}: non-finite input gradient at {shape}"
    nonzero = float(np.mean(grad != 0))
    assert nonzero > 0.5, f"{arch}: input gradient non-zero at only {nonzero:.1%} of the input at {shape}"
