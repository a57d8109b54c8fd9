"""The reference side of a cross-check: pyautoattack 0.2.0 (= fra31/auto-attack@a392200) on a torch model.

``run_reference`` builds the reference's ``AutoAttack`` with the same version, norm, eps and seed,
gives its attack objects the settings of the alignjax configs (``reference_settings.configure_reference``;
only when the budgets are reduced or the version is ``paper``, otherwise the reference keeps its own
preset and ``settings_mismatches`` checks that alignjax's preset equals it), and runs the reference's own
``run_standard_evaluation`` unchanged. To know which attack broke each point, the attack objects'
``perturb`` and the evaluator's ``get_logits`` are wrapped: the cascade attacks the still-robust
points in ascending index order in chunks of ``batch_size`` (``autoattack.py``, lines "robust_lin_idcs"),
so every ``perturb`` call maps to known indices (checked row by row against the inputs), and the
forward pass that follows it is the reference's own re-verification.

torch and pyautoattack are imported inside the functions only (optional extra ``crosscheck``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from alignjax.attacks.presets import AttackConfig
from alignjax.crosscheck.reference_settings import configure_reference, settings_mismatches
from alignjax.errors import InputError

INSTALL_HINT = "pip install 'alignjax[crosscheck]' (torch==2.13.0, pyautoattack==0.2.0)"
NOT_BROKEN, CLEAN_ERROR = "", "clean"


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a blocked or half-imported package
        return False


def reference_available() -> bool:
    return all(_installed(name) for name in ("torch", "pyautoattack"))


def require_reference() -> dict[str, str]:
    """Versions of torch and pyautoattack; a one-line InputError naming the extra when either is missing."""
    missing = [name for name in ("torch", "pyautoattack") if not _installed(name)]
    if missing:
        raise InputError(f"the reference run needs {' and '.join(missing)}: {INSTALL_HINT}; or pass "
                         "--reference none with --published to compare with a published figure only")
    return {name: importlib.metadata.version(name) for name in ("torch", "pyautoattack")}


@dataclasses.dataclass
class ReferenceResult:
    """One reference evaluation (host arrays, one entry per point; same fields as AutoAttackResult)."""

    clean_logits: np.ndarray
    clean_correct: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray
    y_adv: np.ndarray
    x_adv: np.ndarray
    robust_accuracy_after: dict[str, float]
    attack_seconds: dict[str, float]
    seconds: float
    warnings: list[str]
    versions: dict[str, str]


class _Recorder:
    """Attributes every point the reference breaks to the attack that broke it (see the module docstring)."""

    def __init__(self, adversary: Any, x: Any, y: Any, batch_size: int, log: Callable[[str], None]):
        self.adversary, self.x, self.y, self.batch_size, self.log = adversary, x, y, batch_size, log
        self.robust: np.ndarray | None = None
        self.broken_by = np.full(len(y), NOT_BROKEN, dtype=object)
        self.queue = np.zeros(0, np.int64)
        self.position = 0
        self.current: str | None = None
        self.pending: tuple[str, np.ndarray] | None = None
        self.seconds: dict[str, float] = {}
        self.after: dict[str, float] = {}

    def attack_name(self, obj: Any) -> str:
        adversary = self.adversary
        if obj is adversary.apgd:
            return "apgd-ce" if adversary.apgd.loss == "ce" else "apgd-dlr"
        if obj is adversary.apgd_targeted:
            return "apgd-t"
        if obj is adversary.fab:
            return "fab-t" if adversary.fab.targeted else "fab"
        return "square"

    def wrap(self, obj: Any) -> None:
        original = obj.perturb

        def perturb(x, y, *args, **kwargs):
            name = self.attack_name(obj)
            indices = self.begin(name, x, y)
            start = time.time()
            adv = original(x, y, *args, **kwargs)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.time() - start
            self.pending = (name, indices)
            return adv

        obj.perturb = perturb

    def begin(self, name: str, x: Any, y: Any) -> np.ndarray:
        import torch

        assert self.robust is not None
        if self.position >= len(self.queue):  # a new attack starts on the points robust so far
            self.finish_attack()
            self.current, self.queue, self.position = name, np.flatnonzero(self.robust), 0
        indices = self.queue[self.position : self.position + len(x)]
        self.position += len(x)
        expected = self.x[torch.from_numpy(indices)].to(x.device)
        if name != self.current or not (torch.equal(x, expected) and torch.equal(y.cpu(), self.y[indices])):
            raise RuntimeError(f"lost track of the reference's batches at {name}: the cascade did not attack "
                               "the still-robust points in index order (has pyautoattack changed?)")
        return indices

    def finish_attack(self) -> None:
        if self.current is not None and self.robust is not None:
            self.after[self.current] = float(self.robust.mean() * 100)
            self.log(f"reference: robust accuracy after {self.current}: {self.after[self.current]:.2f}% "
                     f"({self.seconds.get(self.current, 0.0):.1f} s)")

    def wrap_logits(self) -> None:
        original = self.adversary.get_logits

        def get_logits(x):
            out = original(x)
            if self.pending is not None:  # the cascade's re-verification of the last perturb
                name, indices = self.pending
                self.pending = None
                predictions = out.max(dim=1)[1].cpu().numpy()
                broken = predictions != self.y[indices].numpy()
                self.robust[indices[broken]] = False
                self.broken_by[indices[broken]] = name
            return out

        self.adversary.get_logits = get_logits


def clean_logits(model: Any, x: Any, batch_size: int, device: Any) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([model(x[i : i + batch_size].to(device)).cpu().numpy()
                               for i in range(0, len(x), batch_size)])


def run_reference(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    attacks: Sequence[AttackConfig],
    version: str,
    eps: float,
    seed: int,
    batch_size: int,
    reconfigure: bool,
    device: str = "cpu",
    log: Callable[[str], None] = lambda _line: None,
) -> ReferenceResult:
    """Runs pyautoattack's ``AutoAttack.run_standard_evaluation`` on ``model`` (a torch module taking NCHW).

    Args:
      model: torch module in eval mode, NCHW float images in [0, 1] -> logits.
      x: (n, h, w, c) images in [0, 1] (NHWC, as alignjax takes them; transposed here).
      y: (n,) labels.
      attacks: the alignjax configs of the same evaluation (names, order and, with ``reconfigure``,
        settings).
      version: 'standard', 'plus', 'rand' run the reference's own preset; 'custom' and 'paper' run
        ``version='custom'`` with the attack names of ``attacks``.
      eps: the reference's radius (normally the alignjax one).
      seed: the reference's seed (every batch of every attack is seeded with it, as in the reference).
      batch_size: the reference's batch size.
      reconfigure: rebuild the attack objects from ``attacks`` (reduced budgets, ``paper``).
      device: torch device of ``model``.
      log: receives progress lines.
    """
    versions = require_reference()
    import torch
    from pyautoattack import AutoAttack

    names = [cfg.name for cfg in attacks]
    reference_version = version if version in ("standard", "plus", "rand") else "custom"
    adversary = AutoAttack(model, norm=attacks[0].norm, eps=eps, seed=seed, version=reference_version,
                           attacks=None if reference_version != "custom" else names, device=device)
    if reconfigure:
        configure_reference(adversary, attacks, eps=eps, seed=seed, device=device)
    mismatches = settings_mismatches(adversary, attacks)
    if mismatches:
        raise InputError("alignjax and the reference would run different settings: " + "; ".join(mismatches))

    x_torch = torch.from_numpy(np.ascontiguousarray(np.transpose(np.asarray(x, np.float32), (0, 3, 1, 2))))
    y_torch = torch.from_numpy(np.asarray(y, np.int64))
    recorder = _Recorder(adversary, x_torch, y_torch, batch_size, log)
    for obj in {id(o): o for o in (adversary.apgd, adversary.apgd_targeted, adversary.fab,
                                   adversary.square)}.values():
        recorder.wrap(obj)
    recorder.wrap_logits()
    warnings: list[str] = []
    handler = _ListHandler(warnings)
    adversary.logger.addHandler(handler)
    try:
        logits = clean_logits(model, x_torch, batch_size, device)
        clean_correct = logits.argmax(1) == np.asarray(y)
        recorder.robust = clean_correct.copy()
        recorder.broken_by[~clean_correct] = CLEAN_ERROR
        start = time.time()
        x_adv, y_adv = adversary.run_standard_evaluation(x_torch, y_torch, batch_size=batch_size)
        seconds = time.time() - start
        recorder.finish_attack()
    finally:
        adversary.logger.removeHandler(handler)
    y_adv = y_adv.cpu().numpy()
    if not np.array_equal(recorder.robust, y_adv == np.asarray(y)):
        raise RuntimeError("the reference's final predictions disagree with its per-attack bookkeeping")
    after = {name: recorder.after.get(name, float(recorder.robust.mean() * 100)) for name in names}
    return ReferenceResult(
        clean_logits=logits, clean_correct=clean_correct, robust=recorder.robust.copy(),
        broken_by=recorder.broken_by.astype(str), y_adv=y_adv.astype(np.int32),
        x_adv=np.transpose(x_adv.cpu().numpy(), (0, 2, 3, 1)),
        robust_accuracy_after={"clean": float(clean_correct.mean() * 100), **after},
        attack_seconds={name: recorder.seconds.get(name, 0.0) for name in names}, seconds=seconds,
        warnings=warnings, versions=versions)


class _ListHandler(logging.Handler):
    """Collects the reference's warnings (its checks log through the 'auto-attack' logger)."""

    def __init__(self, sink: list[str]):
        super().__init__(level=logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())
