"""The real CIFAR-10 ResNet-18 of pyautoattack end to end: the alignjax CLI and the reference
AutoAttack on the same real images, and the CLI with every version.

Model: ``examples/model_test.pt`` of the installed pyautoattack 0.2.0 wheel (auto-attack's example
ResNet-18, a normally trained CIFAR-10 model), given to the CLI as the PyTorch file it is
(``--arch cifar_resnet18 --weights model_test.pt``; alignjax reads it without torch). Data: 40 real
32x32 natural images cropped from scikit-image's colour photographs (``real_cifar_resnet.py``),
labelled with the torch model's own predictions, so clean accuracy is 100 % by construction. Radius:
Linf 0.5/255, where this non-robust model keeps some points and loses others.

How the two are compared, and why this tolerance. The implementations draw different random numbers
(APGD's start points, Square's windows; FAB-T with one restart is deterministic), so per-point
outcomes can agree exactly only on points whose fate does not depend on the draw. If both implement
the same attack, point ``i`` has the same break probability ``p_i`` under both, the two disagree on it
with probability ``2 p_i (1 - p_i)``, and the expected number of disagreements between alignjax and
the reference equals that between two seeds of one implementation. Measured at the CI budgets
(3 iterations, 30 queries) on these 40 points: alignjax seeds 0, 1, 2 and pyautoattack seeds 0, 1, 2
leave the very same 10 points robust (as do 5 iterations and 50 queries), i.e. 0 disagreements in 15
pairs of runs (600 point pairs: by the rule of three the rate is below 0.5 %, fewer than 0.2
disagreements expected per comparison). ``MAX_DISAGREEMENTS = 2`` then
fails a correct implementation with probability about 0.1 % (Poisson tail at mean 0.2), while an
implementation that misses or invents 3 breaks fails; the robust accuracies differ by at most
2/40 = 5 pp, and in the measured runs by 0. The default run compares every other photo (20, of
which 5 stay robust under both: the same bound holds on any subset of the points); all 40 run with
``-m slow``. The full-iteration comparison (``-m slow``, 12 points,
about 25 CPU-minutes) uses the same bound, on the view that attacks run to convergence depend on their
draws no more than these short runs do; its result (12 of 12 points agree, 33.3 % robust accuracy
for both) is recorded in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from alignjax.cli import main
from tests.attacks.real_cifar_resnet import (
    cifar_photos,
    model_test_checkpoint,
    reference_standard,
    torch_labels,
)
from tests.compile_cache import cheap_compiles

EPS_TEXT, EPS = "1/510", 1 / 510
SEED = 0
N_ITER, N_QUERIES = 3, 30  # reduced budgets of the CI comparison (the standard version: 100 and 5000)
BATCH = 10
SLOW_BATCH = 4
MAX_DISAGREEMENTS = 2  # per comparison (see the module docstring)
EXPECTED_ATTACKS = {
    "plus": ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"],
    "rand": ["apgd-ce", "apgd-dlr"],
    "paper": ["apgd-ce", "apgd-t", "fab-t", "square"],
    "custom": ["fab", "apgd-dlr"],  # in the order given, not the cascade's
}


@pytest.fixture(scope="module")
def xla_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("xla_cache")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    x = cifar_photos()
    y = torch_labels(x)
    path = tmp_path_factory.mktemp("photos") / "photos.npz"
    np.savez(path, x=x, y=y)
    return x, y, path


def run_cli(data, out, *extra: str, batch_size: int = BATCH) -> tuple[dict, pl.DataFrame]:
    argv = [
        "attack", "--arch", "cifar_resnet18", "--weights", str(model_test_checkpoint()), "--data", str(data),
        "--norm", "Linf", "--eps", EPS_TEXT, "--seed", str(SEED), "--batch-size", str(batch_size),
        "--out", str(out), "--no-progress", *extra,
    ]
    assert main(argv) == 0
    return json.loads((out / "summary.json").read_text()), pl.read_parquet(out / "points.parquet")


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """Robust accuracies and per-point agreement of two robust-flag vectors (True = robust)."""
    b = int((ours & ~theirs).sum())
    c = int((~ours & theirs).sum())
    return {
        "n": len(ours), "ours": float(ours.mean() * 100), "theirs": float(theirs.mean() * 100),
        "only_ours_robust": b, "only_theirs_robust": c, "agreement": float((ours == theirs).mean() * 100),
    }


def check_agreement(report: dict, max_disagreements: int) -> None:
    print(report)
    assert 0 < report["theirs"] < 100, f"choose an eps with mixed outcomes: {report}"
    disagreements = report["only_ours_robust"] + report["only_theirs_robust"]
    assert disagreements <= max_disagreements, f"too many per-point disagreements: {report}"


@pytest.mark.parametrize("every", [2, pytest.param(1, marks=pytest.mark.slow)], ids=["20-photos", "40-photos"])
def test_standard_version_reduced_matches_pyautoattack(photos, tmp_path, every):
    """By default on every other photo (20): the run's time goes to the points that stay robust (each
    goes through every attack), half of which are then left out; all 40 with ``-m slow``."""
    x, y, _ = photos
    x, y = x[::every], y[::every]
    data = tmp_path / "photos.npz"
    np.savez(data, x=x, y=y)
    budget = ["--version", "standard", "--n-iter", str(N_ITER), "--n-queries", str(N_QUERIES)]
    summary, points = run_cli(data, tmp_path / "run", *budget)
    assert summary["clean_accuracy"] == 100.0
    assert [a["name"] for a in summary["attacks"]] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert all(f"n_iter={N_ITER}" in a for a in manifest["attacks"] if "Square" not in a)
    assert any(f"n_queries={N_QUERIES}" in a for a in manifest["attacks"])
    ours = points.sort("index")["robust"].to_numpy()
    theirs = reference_standard(x, y, eps=EPS, n_iter=N_ITER, n_queries=N_QUERIES, seed=SEED, batch_size=BATCH)
    check_agreement(compare(ours, theirs), MAX_DISAGREEMENTS)


@pytest.mark.slow
def test_standard_version_full_matches_pyautoattack(photos, tmp_path):
    """The standard version at its own budgets (100 iterations, 9 targets, 5000 queries) on 12 of the
    photos (every other one of the first 24): each point that stays robust costs both implementations
    about 2 CPU-minutes (Square's 5000 queries, 9 targets for APGD-T and FAB-T)."""
    x, y, _ = photos
    x, y = x[:24:2], y[:24:2]
    data = tmp_path / "twelve.npz"
    np.savez(data, x=x, y=y)
    summary, points = run_cli(data, tmp_path / "run", "--version", "standard", batch_size=SLOW_BATCH)
    assert summary["clean_accuracy"] == 100.0
    ours = points.sort("index")["robust"].to_numpy()
    theirs = reference_standard(x, y, eps=EPS, n_iter=None, n_queries=None, seed=SEED, batch_size=SLOW_BATCH)
    report = compare(ours, theirs)
    report["after"] = summary["robust_accuracy_after"]
    check_agreement(report, MAX_DISAGREEMENTS)


@pytest.mark.parametrize(
    "version",
    [pytest.param(version, marks=pytest.mark.slow)
     for version in (["plus"], ["rand"], ["paper"], ["custom", "--attacks", "fab,apgd-dlr"])],
    ids=lambda v: v[0],
)
def test_every_version_attacks_the_real_model(photos, tmp_path, version, xla_cache):
    """The CLI with the other versions (``standard`` is the CLI run of
    ``test_standard_version_reduced_matches_pyautoattack``) on three points, 2 iterations, 5 queries,
    1 restart; with ``-m slow`` (80, 20, 32 and 25 CPU-seconds in a full run). The persistent compilation cache reads
    back the programs of attack configs the versions share at these budgets, and XLA's optimisations
    are off (tiny runs, faster compiles). By default every version runs end to end on the embedded
    model (``tests/test_cli.py``), this model runs the standard version's four attacks (the reduced
    comparison above), and the other attacks' model-specific programs (untargeted FAB's Jacobian, the
    input gradient every APGD loss differentiates) are checked on every architecture
    (``tests/models/test_every_architecture_attackable.py``); EOT, ``rand``'s difference:
    ``test_apgd.py``, ``test_model_randomness.py``, ``test_cascade.py``."""
    x, y, _ = photos
    small = tmp_path / "three.npz"
    np.savez(small, x=x[:3], y=y[:3])
    budget = ["--n-iter", "2", "--n-queries", "5", "--n-restarts", "1"]
    with cheap_compiles(xla_cache, disable_optimizations=True):
        summary, points = run_cli(small, tmp_path / "run", "--version", *version, *budget)
    assert summary["clean_accuracy"] == 100.0 and points.height == 3
    assert [a["name"] for a in summary["attacks"]] == EXPECTED_ATTACKS[version[0]]
    broken = ~points["robust"].to_numpy()
    assert (points["adv_prediction"].to_numpy()[broken] != y[:3][broken]).all()
    assert (points["perturbation_norm"] <= EPS * (1 + 1e-5) + 1e-7).all()
