"""AutoAttack in JAX: APGD, FAB, Square and the cascade (fra31/auto-attack@a392200).

Every attack is an ``Attack`` (``protocol.py``); ``engine/`` runs them over points.
"""

from alignjax.attacks import presets
from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine.cascade import AutoAttackResult, run_autoattack, run_cascade, run_individual
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.protocol import Attack, PassResult
from alignjax.attacks.square import SquareConfig
from alignjax.errors import InputError
from alignjax.types import Model

__all__ = [
    "APGDConfig",
    "Attack",
    "AutoAttackResult",
    "FABConfig",
    "InputError",
    "Model",
    "PassResult",
    "SquareConfig",
    "presets",
    "run_autoattack",
    "run_cascade",
    "run_individual",
]
