"""Reduced runs of a whole grid: ``alignjax sweep --n / --n-iter / --n-queries / --n-restarts``.

``--n`` caps every dataset's points (a dataset with fewer keeps them all); the budgets replace every
version's as ``alignjax attack`` does (``presets.with_budget``: iterations of APGD and FAB, queries of
Square, restarts of every attack). They are part of the grid: they change the unit ids and the
config hash, and ``run.json`` records them. A reduced run gets its own default run id,
``<name>-reduced-<what was reduced>`` (e.g. ``digits-example-reduced-n10-iter2-queries5``), so a quick
check and the full sweep never share a run, and rerunning either resumes it; under an explicit
``--run-id`` holding the other one, the changed grid is refused (``Store.begin_run``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from alignjax.errors import InputError

if TYPE_CHECKING:
    from alignjax.sweep.config import SweepConfig

_LABELS = {"n": "n", "n_iter": "iter", "n_queries": "queries", "n_restarts": "restarts"}


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What the command line reduced; ``None`` keeps the config's value."""

    n: int | None = None
    n_iter: int | None = None
    n_queries: int | None = None
    n_restarts: int | None = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                option = "--" + field.name.replace("_", "-")
                raise InputError(f"{option} must be a whole number >= 1, got {value!r}")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in dataclasses.fields(self))

    def budget(self) -> dict[str, int | None]:
        """Keyword arguments of ``presets.with_budget``."""
        return {"n_iter": self.n_iter, "n_queries": self.n_queries, "n_restarts": self.n_restarts}

    def label(self) -> str:
        """'n10-iter2-queries5': what was reduced, for run ids ('' when nothing was)."""
        return "-".join(f"{_LABELS[f.name]}{getattr(self, f.name)}" for f in dataclasses.fields(self)
                        if getattr(self, f.name) is not None)

    def describe(self) -> str:
        """'n=10, n_iter=2, n_queries=5' ('' when nothing was reduced)."""
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                         if getattr(self, f.name) is not None)


def with_overrides(config: SweepConfig, overrides: Overrides) -> SweepConfig:
    """``config`` with ``overrides`` recorded and every dataset capped to ``overrides.n``.

    A dataset without its own ``n`` is counted (``sources.dataset_size``: for files, a listing or a
    read of the labels) and keeps ``n`` unset when it holds no more than the cap, so that its units
    stay those of the full grid's.
    """
    from alignjax.sweep.sources import dataset_size

    if config.overrides.active:
        raise InputError(f"config {config.name!r} is already reduced ({config.overrides.describe()})")
    datasets: Any = config.datasets
    if overrides.n is not None:
        cap = overrides.n
        datasets = tuple(
            dataclasses.replace(d, n=min(d.n, cap)) if d.n is not None
            else d if dataset_size(d) <= cap else dataclasses.replace(d, n=cap)
            for d in config.datasets)
    return dataclasses.replace(config, datasets=datasets, overrides=overrides)
