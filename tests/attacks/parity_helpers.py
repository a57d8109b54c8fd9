"""Shared pieces of the statistical parity tests against the stored reference fixture."""

from __future__ import annotations

import functools
import hashlib
import json

import jax
import numpy as np

from alignjax.attacks import presets
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir
from tests.conftest import FIXTURES

TOLERANCE_PP = 1.0  # |robust accuracy difference| allowed by the issue, in percentage points
SEED = 0


@functools.cache
def reference() -> dict:
    fixture = json.loads((FIXTURES / "reference_digits.json").read_text())
    weights = hashlib.sha256((bundled_weights_dir() / EMBEDDED_WEIGHTS).read_bytes()).hexdigest()
    assert fixture["weights_sha256"] == weights, (
        "tests/fixtures/reference_digits.json was made for other weights: rerun scripts/make_reference_fixtures.py"
    )
    return fixture


def individual_configs(norm: str, eps: float) -> tuple:
    """APGD-CE, APGD-DLR, APGD-T, FAB-T, Square with the standard version's settings, as the fixture."""
    ce, apgd_t, fab_t, square = presets.standard(norm, eps)
    import dataclasses

    dlr = dataclasses.replace(ce, loss="dlr")
    return ce, dlr, apgd_t, fab_t, square


@functools.cache
def _model():
    """One logits function for every run, so that reruns (other seeds) reuse the compiled programs."""
    return load_embedded()


def evaluate(norm: str, attacks, *, individual: bool, seed: int = SEED):
    logits_fn, variables = _model()
    test = digits_split("test")
    return run_autoattack(logits_fn, variables, test.x, test.y, attacks=attacks, key=jax.random.key(seed),
                          batch_size=400, individual=individual, run_checks=False)


def robust_accuracy(flags) -> float:
    return float(np.mean(np.asarray(flags, bool)) * 100)
