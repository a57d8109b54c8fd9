"""Speed of the analysis statistics: 150 models x 105 benchmarks x 3 eps (315 pairs), each with
1,000 paired bootstrap resamples and 1,000 permutations, Spearman (the issue's target: < 60 s on the
2-core CPU), then Pearson and Kendall; and the same through scipy (``bootstrap`` + ``permutation_test``
with ``spearmanr``) on a few pairs, extrapolated, for reference.

Data: a synthetic leaderboard with real Brain-Score identifiers (105 nodes of the shipped hierarchy,
10% of scores missing, scores rounded to 3 decimals as the site prints them, so ties occur) and
robust accuracies at the paper's eps. Usage: python benchmarks/analysis_speed.py [--methods ...]
[--reference-pairs 3]. Prints wall and process CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy
import scipy.stats as st

from alignjax.analysis.leaderboard import hierarchy
from alignjax.analysis.resampling import ResamplingConfig, correlate, pair_generator


def synthetic(n_models: int = 150, n_benchmarks: int = 105, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = hierarchy().sort("order").get_column("benchmark").to_list()[:n_benchmarks]
    scores = np.round(rng.beta(4, 6, (n_benchmarks, n_models)), 3)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    robust = np.round(100 * rng.beta(2, 5, (3, n_models)), 2)
    return names, scores, robust


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="spearman,pearson,kendall")
    parser.add_argument("--reference-pairs", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    names, scores, robust = synthetic()
    eps = ("0.001", "0.5/255", "1/255")
    x = np.repeat(scores, len(eps), axis=0)
    y = np.tile(robust, (len(names), 1))
    labels = [f"{b}|{e}" for b in names for e in eps]
    config = ResamplingConfig(n_bootstrap=args.resamples, n_permutations=args.resamples)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"{len(names)} benchmarks x {len(eps)} eps = {len(labels)} pairs, 150 models, "
          f"{args.resamples} bootstrap + {args.resamples} permutations each")
    for method in args.methods.split(","):
        wall, cpu = time.perf_counter(), time.process_time()
        result = correlate(x, y, method=method, labels=labels, config=config)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"alignjax {method:9s}: {wall:7.2f} s wall, {cpu:7.2f} s CPU "
              f"(median n {int(np.median(result.n))}, {int(np.isfinite(result.ci_low).sum())} intervals)")
    if args.reference_pairs:
        wall, cpu = time.perf_counter(), time.process_time()
        for pair in range(args.reference_pairs):
            keep = np.isfinite(x[pair]) & np.isfinite(y[pair])
            a, b = x[pair, keep], y[pair, keep]

            def statistic(u, v, axis=-1):
                return st.spearmanr(u, v).statistic

            st.bootstrap((a, b), statistic, paired=True, vectorized=False, n_resamples=args.resamples,
                         method="percentile", rng=pair_generator(0, labels[pair], "bootstrap"))
            st.permutation_test((a,), lambda u, b=b: st.spearmanr(u, b).statistic, permutation_type="pairings",
                                vectorized=False, n_resamples=args.resamples,
                                rng=pair_generator(0, labels[pair], "permutation"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scale = len(labels) / args.reference_pairs
        print(f"scipy    spearman : {wall:7.2f} s wall, {cpu:7.2f} s CPU for {args.reference_pairs} pairs -> "
              f"~{wall * scale:.0f} s wall, ~{cpu * scale:.0f} s CPU for {len(labels)} (extrapolated)")


if __name__ == "__main__":
    main()
