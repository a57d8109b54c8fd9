"""Attack settings shared by both sides of a cross-check: reduced iteration budgets as frozen configs.

A cross-check runs the same attack list through alignjax and through the reference
(``pyautoattack`` 0.2.0 = ``fra31/auto-attack@a392200``). To fit a CI, the iteration budgets can be
reduced; ``reduce_budgets`` rewrites the preset configs with ``dataclasses.replace`` and
``alignjax.crosscheck.reference_settings.configure_reference`` gives the reference's attack objects exactly
the same settings. A reduced run is not AutoAttack: its robust accuracy is an upper bound of the
full version's, and the report says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.presets import AttackConfig
from alignjax.attacks.square import SquareConfig


@dataclasses.dataclass(frozen=True)
class Budgets:
    """Overrides of the presets' iteration budgets; ``None`` keeps the preset's value.

    Attributes:
      n_iter: iterations of APGD (all losses) and FAB (both variants).
      n_restarts: restarts of APGD-CE/DLR and untargeted FAB (APGD-T and FAB-T keep 1 restart per
        target, as in every reference version).
      n_target_classes: targets of APGD-T and FAB-T.
      n_queries: queries of Square.
    """

    n_iter: int | None = None
    n_restarts: int | None = None
    n_target_classes: int | None = None
    n_queries: int | None = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"--{field.name.replace('_', '-')} must be an integer >= 1, got {value!r}")

    @property
    def reduced(self) -> bool:
        return any(getattr(self, f.name) is not None for f in dataclasses.fields(self))

    def describe(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                 if getattr(self, f.name) is not None]
        return ", ".join(parts) if parts else "preset budgets"


def _replace(cfg: AttackConfig, **changes: int | None) -> AttackConfig:
    kept = {name: value for name, value in changes.items() if value is not None}
    return dataclasses.replace(cfg, **kept) if kept else cfg


def reduce_budgets(attacks: Sequence[AttackConfig], budgets: Budgets) -> tuple[AttackConfig, ...]:
    """The same attack list with ``budgets`` applied (frozen configs, rebuilt with ``dataclasses.replace``).

    ``use_largereps`` (L1 APGD) splits the iterations over three radii and needs ``n_iter >= 2``.
    """
    out = []
    for cfg in attacks:
        if isinstance(cfg, APGDConfig):
            targeted = cfg.loss == "dlr-targeted"
            out.append(_replace(cfg, n_iter=budgets.n_iter,
                                n_restarts=None if targeted else budgets.n_restarts,
                                n_target_classes=budgets.n_target_classes if targeted else None))
        elif isinstance(cfg, FABConfig):
            out.append(_replace(cfg, n_iter=budgets.n_iter,
                                n_restarts=None if cfg.targeted else budgets.n_restarts,
                                n_target_classes=budgets.n_target_classes if cfg.targeted else None))
        elif isinstance(cfg, SquareConfig):
            out.append(_replace(cfg, n_queries=budgets.n_queries))
        else:
            raise TypeError(f"cannot apply budgets to {type(cfg).__name__}; the cross-check knows APGD, FAB "
                            "and Square")
    return tuple(out)
