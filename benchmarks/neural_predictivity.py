"""Neural predictivity speed: alignjax (kernel-form PLS in JAX) vs scikit-learn, same data, same run.

Workload: Brain-Score's full scoring of one benchmark, 10 stratified 90/10 splits (``random_state=1``)
of ``--stimuli`` stimuli x ``--features`` model features x ``--neuroids`` neuroids, a 25-component PLS
per split (``PLSRegression(n_components=25, scale=False)``), Pearson r per neuroid on the test stimuli,
median over neuroids, mean over splits. Default size: 2560 x 50,000 x 256 (MajajHong2015-sized).

Data are seeded synthetic "activations": a 64-dimensional latent code seen through a random
non-negative mixing (ReLU of a linear map) plus noise, and responses driven by the same code plus
noise; stratification by 64 objects x 40 images. Both sides get the identical float32 feature matrix.

alignjax is timed twice (the first call includes compilation; the second is warm); the Gram matrix of
all stimuli is part of the timed work. scikit-learn runs the same splits, timed per split; with
``--reference-splits k < 10`` only the first k splits run and the 10-split time is extrapolated
(printed as such). Scores are compared per split and per neuroid.

    python benchmarks/neural_predictivity.py [--stimuli 2560] [--features 50000] [--neuroids 256]
        [--reference-splits 10] [--precision float64] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jax

from alignjax.alignment.neural.correlation import median_over_neuroids
from alignjax.alignment.neural.predictivity import predictivity
from alignjax.alignment.neural.splits import brainscore_splits


def synthetic(n_stimuli: int, n_features: int, n_neuroids: int, n_objects: int, seed: int):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_stimuli, 64)).astype(np.float32)
    features = np.empty((n_stimuli, n_features), np.float32)
    for start in range(0, n_features, 8192):  # chunked, to bound the temporaries
        width = min(8192, n_features - start)
        mixing = rng.normal(size=(64, width)).astype(np.float32) / 8
        block = latent @ mixing + 0.5 * rng.normal(size=(n_stimuli, width)).astype(np.float32)
        features[:, start:start + width] = np.maximum(block, 0)
    responses = latent @ rng.normal(size=(64, n_neuroids)) / 8 + rng.normal(size=(n_stimuli, n_neuroids))
    labels = np.repeat(np.arange(n_objects), int(np.ceil(n_stimuli / n_objects)))[:n_stimuli]
    return features, responses + 5.0, labels


def pearson_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc, yc = x - x.mean(0), y - y.mean(0)
    return (xc * yc).sum(0) / np.sqrt((xc**2).sum(0) * (yc**2).sum(0))


def run_reference(features, responses, splits, n_splits):
    from sklearn.cross_decomposition import PLSRegression

    rows, seconds, iterations = [], [], []
    for train, test in splits[:n_splits]:
        start = time.perf_counter()
        pls = PLSRegression(n_components=25, scale=False).fit(features[train], responses[train])
        prediction = pls.predict(features[test])
        rows.append(pearson_columns(prediction, responses[test]))
        seconds.append(time.perf_counter() - start)
        iterations.append(int(np.sum(pls.n_iter_)))
        print(f"  scikit-learn split {len(seconds)}: {seconds[-1]:.1f} s ({iterations[-1]} power iterations)",
              flush=True)
    return np.stack(rows), seconds, iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stimuli", type=int, default=2560)
    parser.add_argument("--features", type=int, default=50_000)
    parser.add_argument("--neuroids", type=int, default=256)
    parser.add_argument("--objects", type=int, default=64)
    parser.add_argument("--reference-splits", type=int, default=10, help="scikit-learn splits to run (1-10)")
    parser.add_argument("--precision", choices=("float64", "float32"), default="float64")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import sklearn

    print(f"{time.strftime('%Y-%m-%d')} | {platform.machine()} {os.cpu_count()} CPUs | Python "
          f"{platform.python_version()} | jax {jax.__version__} ({jax.default_backend()}) | scikit-learn "
          f"{sklearn.__version__} | numpy {np.__version__}")
    features, responses, labels = synthetic(args.stimuli, args.features, args.neuroids, args.objects, args.seed)
    splits = brainscore_splits(args.stimuli, labels)
    print(f"{args.stimuli} stimuli x {args.features} features x {args.neuroids} neuroids, 10 splits "
          f"({len(splits[0][0])} train / {len(splits[0][1])} test), PLS 25, {args.precision}", flush=True)

    times = []
    for attempt in ("first call, with compilation", "warm"):
        start = time.perf_counter()
        ours = predictivity(features, responses, splits, dtype=args.precision)
        times.append(time.perf_counter() - start)
        print(f"alignjax {attempt}: {times[-1]:.1f} s | raw score {ours.raw:.6f}", flush=True)
    if args.skip_reference:
        return
    k = max(1, min(10, args.reference_splits))
    reference, seconds, iterations = run_reference(features, responses, splits, k)
    reference_total = sum(seconds) * (10 / k)
    label = "measured" if k == 10 else f"extrapolated from {k} split(s): {sum(seconds):.1f} s x {10 / k:g}"
    ours_rows = ours.neuroid_values[:k]
    print(f"scikit-learn, 10 splits: {reference_total:.1f} s ({label}); mean power iterations per split "
          f"{np.mean(iterations):.0f}")
    print(f"max |r difference| per neuroid over {k} split(s): {np.max(np.abs(ours_rows - reference)):.2e}; "
          f"split medians: ours {np.round(median_over_neuroids(ours_rows), 6).tolist()} vs reference "
          f"{np.round(median_over_neuroids(reference), 6).tolist()}")
    print(f"speed-up: {reference_total / times[1]:.1f}x warm, {reference_total / times[0]:.1f}x including "
          "compilation")


if __name__ == "__main__":
    main()
