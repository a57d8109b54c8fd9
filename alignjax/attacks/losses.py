"""Per-example attack losses (maximised by the attacks), with the reference's exact formulas.

Reference: ``fra31/auto-attack@a392200:autoattack/autopgd_base.py`` (``nn.CrossEntropyLoss``,
``APGDAttack.dlr_loss``, ``APGDAttack_targeted.dlr_loss_targeted``) and
``fra31/auto-attack@a392200:autoattack/square.py`` (``SquareAttack.margin_and_loss``). Paper: Croce &
Hein (2020), "Reliable evaluation of adversarial robustness with an ensemble of diverse
parameter-free attacks" (DLR, eq. 5, and targeted DLR, eq. 7).

All functions take ``(b, k)`` logits and ``(b,)`` int labels and return ``(b,)`` float32 losses. Class
counts too small for a loss raise ``ValueError`` when traced, from the static logits shape.

Ties follow the reference on CPU: the logits are sorted ascending with a stable sort, so among equal
maxima the one with the largest index comes last. If the label ties for the maximum but is not that
last index, DLR's "max other" is ``z_y`` itself and the numerator is 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from alignjax.types import Labels, Logits

Losses = Float[Array, " b"]


def _check_classes(logits: Logits, minimum: int, what: str) -> None:
    if logits.ndim != 2:
        raise ValueError(f"{what} expects (batch, classes) logits, got shape {logits.shape}")
    if logits.shape[-1] < minimum:
        raise ValueError(
            f"{what} needs at least {minimum} classes, the logits have {logits.shape[-1]} "
            "(see fra31/auto-attack issue #70)"
        )


def _label_logit(logits: Logits, y: Labels) -> Losses:
    return jnp.take_along_axis(logits, y[:, None].astype(jnp.int32), axis=1)[:, 0]


def cross_entropy(logits: Logits, y: Labels) -> Losses:
    """``-log softmax(z)_y`` per example (``nn.CrossEntropyLoss(reduction='none')``)."""
    _check_classes(logits, 1, "cross-entropy")
    logits = logits.astype(jnp.float32)
    return -_label_logit(jax.nn.log_softmax(logits, axis=-1), y)


def dlr_loss(logits: Logits, y: Labels) -> Losses:
    """Untargeted DLR: ``-(z_y - max_{i != y} z_i) / (z_(1) - z_(3) + 1e-12)``.

    "max other" is the second-largest sorted logit if the last index of the ascending (stable) sort is
    ``y``, else the largest, exactly as the reference computes it. Needs at least 3 classes.
    """
    _check_classes(logits, 3, "DLR loss")
    logits = logits.astype(jnp.float32)
    order = jnp.argsort(logits, axis=-1)
    ascending = jnp.take_along_axis(logits, order, axis=-1)
    y_is_top = (order[:, -1] == y).astype(jnp.float32)
    numerator = _label_logit(logits, y) - ascending[:, -2] * y_is_top - ascending[:, -1] * (1.0 - y_is_top)
    return -numerator / (ascending[:, -1] - ascending[:, -3] + 1e-12)


def dlr_targeted_loss(logits: Logits, y: Labels, y_target: Labels) -> Losses:
    """Targeted DLR: ``-(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2 + 1e-12)``. Needs at least 4 classes."""
    _check_classes(logits, 4, "targeted DLR loss")
    logits = logits.astype(jnp.float32)
    ascending = jnp.sort(logits, axis=-1)
    numerator = _label_logit(logits, y) - _label_logit(logits, y_target)
    return -numerator / (ascending[:, -1] - 0.5 * (ascending[:, -3] + ascending[:, -4]) + 1e-12)


def margin_loss(logits: Logits, y: Labels) -> Losses:
    """Square Attack's margin ``z_y - max_{j != y} z_j`` (negative once misclassified). Needs 2 classes."""
    _check_classes(logits, 2, "margin loss")
    logits = logits.astype(jnp.float32)
    is_label = jnp.arange(logits.shape[-1])[None, :] == y[:, None]
    others = jnp.where(is_label, -jnp.inf, logits)
    return _label_logit(logits, y) - jnp.max(others, axis=-1)
