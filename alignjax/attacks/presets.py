"""AutoAttack versions as data: each preset returns the tuple of attack configs the reference runs.

Rewrites ``AutoAttack.__init__`` and ``AutoAttack._set_version`` of
``fra31/auto-attack@a392200:autoattack/autoattack.py`` as pure functions (STYLE principle 3).

Deliberate difference from the reference: in ``custom``, running 'fab-t' does not silently set the
untargeted FAB's restarts to 1 for any 'fab' that runs after it (a side effect of the reference's
shared attack object); each name always maps to the same config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.square import SquareConfig
from alignjax.eps import parse_eps

__all__ = ["parse_eps"]  # re-exported: alignjax.eps is its home


AttackConfig = APGDConfig | FABConfig | SquareConfig

VERSIONS = ("standard", "plus", "rand", "custom", "paper")
ATTACK_NAMES = ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t")


def _check(norm: str, eps: float) -> None:
    if norm not in ("Linf", "L2", "L1"):
        raise ValueError(f"unknown norm {norm!r}; use 'Linf', 'L2' or 'L1'")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def standard(norm: str, eps: float) -> tuple[AttackConfig, ...]:
    """APGD-CE, APGD-T, FAB-T, Square as ``version='standard'`` (L1: 5 restarts, largereps, 5 targets)."""
    _check(norm, eps)
    l1 = norm == "L1"
    return (
        APGDConfig(norm, eps, n_restarts=5 if l1 else 1, loss="ce", use_largereps=l1),
        APGDConfig(norm, eps, n_restarts=1, loss="dlr-targeted", use_largereps=l1,
                   n_target_classes=5 if l1 else 9),
        FABConfig(norm, eps, n_restarts=1, targeted=True, n_target_classes=9),
        SquareConfig(norm, eps, n_queries=5000, p_init=0.8),
    )


def plus(norm: str, eps: float) -> tuple[AttackConfig, ...]:
    """APGD-CE, APGD-DLR (5 restarts each), FAB (5), Square, APGD-T (9), FAB-T (9) as ``'plus'``."""
    _check(norm, eps)
    return (
        APGDConfig(norm, eps, n_restarts=5, loss="ce"),
        APGDConfig(norm, eps, n_restarts=5, loss="dlr"),
        FABConfig(norm, eps, n_restarts=5, targeted=False),
        SquareConfig(norm, eps, n_queries=5000, p_init=0.8),
        APGDConfig(norm, eps, n_restarts=1, loss="dlr-targeted", n_target_classes=9),
        FABConfig(norm, eps, n_restarts=1, targeted=True, n_target_classes=9),
    )


def rand(norm: str, eps: float) -> tuple[AttackConfig, ...]:
    """APGD-CE and APGD-DLR with EOT over 20 passes, 1 restart, as ``'rand'`` (randomised defences)."""
    _check(norm, eps)
    return (
        APGDConfig(norm, eps, n_restarts=1, loss="ce", eot_iter=20),
        APGDConfig(norm, eps, n_restarts=1, loss="dlr", eot_iter=20),
    )


def custom(names: Sequence[str], norm: str, eps: float) -> tuple[AttackConfig, ...]:
    """Any list of reference attack names, with the reference constructor's defaults.

    As in the reference, untargeted APGD and FAB keep 5 restarts here (the RobustBench README sets
    ``adversary.apgd.n_restarts = 1`` by hand; pass your own configs for that).
    """
    _check(norm, eps)
    if not names:
        raise ValueError(f"custom version needs at least one attack name out of {ATTACK_NAMES}")
    table: dict[str, AttackConfig] = {
        "apgd-ce": APGDConfig(norm, eps, n_restarts=5, loss="ce"),
        "apgd-dlr": APGDConfig(norm, eps, n_restarts=5, loss="dlr"),
        "fab": FABConfig(norm, eps, n_restarts=5, targeted=False),
        "square": SquareConfig(norm, eps, n_queries=5000, p_init=0.8),
        "apgd-t": APGDConfig(norm, eps, n_restarts=1, loss="dlr-targeted", n_target_classes=9),
        "fab-t": FABConfig(norm, eps, n_restarts=1, targeted=True, n_target_classes=9),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"attack(s) not supported: {unknown}; choose from {ATTACK_NAMES}")
    return tuple(table[n] for n in names)


def paper(norm: str, eps: float, n_classes: int) -> tuple[AttackConfig, ...]:
    """The configuration the paper (arXiv 2502.12377) ran through torchattacks 3.5.1's ``AutoAttack``.

    torchattacks does not pass ``steps`` to its sub-attacks, so APGD, APGD-T and FAB run at their
    default 10 steps; APGD-T and FAB use ``n_classes - 1`` target classes; Square keeps 5000 queries
    with torchattacks' rescaled p schedule (``resc_schedule=True``). Linf and L2 only, as torchattacks.
    This is **not** the reference AutoAttack: use it only to reproduce the paper's numbers.
    """
    _check(norm, eps)
    if norm == "L1":
        raise ValueError("the paper preset exists for Linf and L2 only (torchattacks has no L1 AutoAttack)")
    if n_classes < 4:
        raise ValueError(f"the paper preset needs at least 4 classes for targeted DLR, got {n_classes}")
    targets = n_classes - 1
    return (
        APGDConfig(norm, eps, n_iter=10, n_restarts=1, loss="ce"),
        APGDConfig(norm, eps, n_iter=10, n_restarts=1, loss="dlr-targeted", n_target_classes=targets),
        FABConfig(norm, eps, n_iter=10, n_restarts=1, targeted=True, n_target_classes=targets),
        SquareConfig(norm, eps, n_queries=5000, p_init=0.8, resc_schedule=True),
    )


def version_attacks(version: str, norm: str, eps: float, *, names: Sequence[str] = (),
                    n_classes: int = 10) -> tuple[AttackConfig, ...]:
    """The attack list of a named version (``names`` only with ``custom``, as the reference)."""
    if version != "custom" and names:
        raise ValueError("attack names can only be given with version='custom' (as in the reference)")
    if version == "standard":
        return standard(norm, eps)
    if version == "plus":
        return plus(norm, eps)
    if version == "rand":
        return rand(norm, eps)
    if version == "custom":
        return custom(names, norm, eps)
    if version == "paper":
        return paper(norm, eps, n_classes)
    raise ValueError(f"unknown version {version!r}; choose from {VERSIONS}")


def with_budget(
    attacks: Sequence[AttackConfig],
    *,
    n_iter: int | None = None,
    n_queries: int | None = None,
    n_restarts: int | None = None,
) -> tuple[AttackConfig, ...]:
    """The same attacks with a smaller (or larger) budget; ``None`` keeps a version's own value.

    ``n_iter`` sets the iterations of APGD and FAB (APGD's checkpoints follow from it, as when the
    reference's ``APGDAttack`` is constructed with that ``n_iter``), ``n_queries`` Square's queries,
    ``n_restarts`` every attack's restarts. Everything else (targets, EOT, loss) stays the version's.
    Use it for quick runs and CI; published numbers come from the unreduced versions.
    """
    for name, value in (("n_iter", n_iter), ("n_queries", n_queries), ("n_restarts", n_restarts)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    out = []
    for cfg in attacks:
        changes: dict[str, Any] = {}
        if n_restarts is not None:
            changes["n_restarts"] = n_restarts
        if n_iter is not None and isinstance(cfg, (APGDConfig, FABConfig)):
            changes["n_iter"] = n_iter
        if n_queries is not None and isinstance(cfg, SquareConfig):
            changes["n_queries"] = n_queries
        out.append(dataclasses.replace(cfg, **changes))
    return tuple(out)
