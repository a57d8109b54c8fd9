"""The reference's sanity checks, returned as warning strings for the summary.

Follows ``fra31/auto-attack@a392200:autoattack/checks.py`` (documented in its ``flags_doc.md``). None
stops a run. Differences, all deliberate fixes of reference bugs:
  * ``check_dynamic`` (a ``sys.settrace`` hunt for ``backward`` calls during a forward pass, with a
    module-global counter that never resets) is not offered: a JAX model is a pure traced function,
    so there is no Python-level backward call to observe.
  * ``check_n_classes`` reports FAB's own target count in the FAB message (the reference prints
    APGD's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.attacks.losses import dlr_loss
from alignjax.types import call_model

RANDOMIZED = (
    "it seems to be a randomized defense: correct predictions or normalised logits differ between "
    "{n} forward passes on the same inputs; use version='rand' (EOT) for randomised models"
)
PROBABILITIES = (
    "the model's outputs look like a probability distribution (all in [0, 1], rows sum to 1); "
    "AutoAttack needs logits: remove the final softmax"
)


def check_randomized(logits_fn, params, x, y, *, key, n: int = 5, alpha: float = 1e-4) -> list[str]:
    """Warns if repeated forward passes on the same batch disagree (reference: 5 passes, alpha 1e-4)."""
    outs = [np.asarray(jax.device_get(call_model(logits_fn, params, x, jax.random.fold_in(key, i))))
            for i in range(n)]
    correct = [int((o.argmax(1) == np.asarray(y)).sum()) for o in outs]
    normed = [o / (np.linalg.norm(o, axis=1, keepdims=True) + 1e-12) for o in outs]
    max_diff = max(float(np.abs(a - b).max()) for a in normed for b in normed)
    if len(set(correct)) > 1 or max_diff > alpha:
        return [RANDOMIZED.format(n=n)]
    return []


def check_range_output(logits: np.ndarray, *, alpha: float = 1e-5) -> list[str]:
    """Warns when outputs look like probabilities instead of logits."""
    logits = np.asarray(logits, np.float64)
    if logits.max() < 1 + alpha and logits.min() > -alpha and np.all(np.abs(logits.sum(-1) - 1) < alpha):
        return [PROBABILITIES]
    return []


def check_n_classes(n_classes: int, attacks: Sequence[object]) -> list[str]:
    """Class-count sanity for DLR (needs >= 3), targeted DLR (>= 4) and the number of targets."""
    warnings: list[str] = []
    names = [getattr(a, "name", "") for a in attacks]
    if "apgd-dlr" in names or "apgd-t" in names:
        if n_classes <= 2:
            warnings.append(f"with only {n_classes} classes the DLR loss cannot be computed: drop apgd-dlr/apgd-t")
        elif n_classes == 3 and "apgd-t" in names:
            warnings.append("with only 3 classes the targeted DLR loss cannot be computed: drop apgd-t")
    for attack in attacks:
        name = getattr(attack, "name", "")
        targets = getattr(attack, "n_target_classes", None)
        if name in ("apgd-t", "fab-t") and targets is not None and targets + 1 > n_classes:
            warnings.append(
                f"{name} uses {targets} target classes but the model has only {n_classes} classes: "
                f"use at most {n_classes - 1} targets"
            )
    return warnings


def check_zero_gradients(logits_fn, params, x, y) -> list[str]:
    """Warns if some points have an all-zero DLR gradient at the clean input (reference: APGD start)."""
    if getattr(logits_fn, "stochastic", False):
        return []  # one noisy gradient says nothing about masking
    if np.asarray(jax.device_get(logits_fn(params, x))).shape[-1] < 3:
        return []
    grad = jax.grad(lambda v: jnp.sum(dlr_loss(logits_fn(params, v), y)))(x)
    zero = int(np.sum(np.abs(np.asarray(jax.device_get(grad))).reshape(len(x), -1).sum(1) == 0))
    if zero:
        return [
            (f"there are {zero} points with zero gradient of the DLR loss at the clean input: the model may mask "
             "gradients; consider BPDA or the black-box Square attack")
        ]
    return []


def check_square_sr(robust_accuracy_after: Mapping[str, float], *, alpha: float = 0.002) -> list[str]:
    """Warns when Square lowered robust accuracy by more than alpha after the white-box attacks."""
    if "square" in robust_accuracy_after and len(robust_accuracy_after) > 2:
        others = [v for k, v in robust_accuracy_after.items() if k != "square"]
        if robust_accuracy_after["square"] < min(others) - alpha:
            return [
                ("Square found adversarial points that the white-box attacks missed, which hints at gradient "
                 "masking: consider adaptive attacks")
            ]
    return []
