"""Cross-checking alignjax's AutoAttack against the PyTorch reference and against published figures.

``crosscheck`` (compare.py) runs both sides on the same points; ``reference.py`` and
``torch_models.py`` hold the only torch code of the package (imported lazily, optional extra
``crosscheck``); ``statistics.py`` the paired test, intervals and the agreement rule; ``report.py``
the parquet and text outputs; ``settings.py`` reduced budgets as frozen configs.
"""

from alignjax.crosscheck.compare import CrosscheckResult, Published, ReferenceSpec, crosscheck
from alignjax.crosscheck.settings import Budgets, reduce_budgets
from alignjax.crosscheck.statistics import Tolerance, accuracy_interval, mcnemar_exact, verdict

__all__ = [
    "Budgets",
    "CrosscheckResult",
    "Published",
    "ReferenceSpec",
    "Tolerance",
    "accuracy_interval",
    "crosscheck",
    "mcnemar_exact",
    "reduce_budgets",
    "verdict",
]
