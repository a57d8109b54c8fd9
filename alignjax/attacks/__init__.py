"""AutoAttack in JAX: APGD, FAB, Square and the cascade (fra31/auto-attack@a392200).

Importing this package registers every attack runner with ``run_attack``.
"""

from alignjax.attacks import presets
from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.autoattack import AutoAttackResult, run_autoattack
from alignjax.attacks.base import AttackResult, run_attack
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.square import SquareConfig
from alignjax.errors import InputError

__all__ = [
    "APGDConfig",
    "AttackResult",
    "AutoAttackResult",
    "FABConfig",
    "InputError",
    "SquareConfig",
    "presets",
    "run_attack",
    "run_autoattack",
]
