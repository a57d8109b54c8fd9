"""Sweep throughput: 4 checkpoints of one architecture, stacked and vmapped vs one by one, same run.

Workload: the embedded digits CNN and 3 seeded perturbed copies of its weights (Gaussian noise, std
0.03 x i) as 4 "checkpoints" of one architecture; the first ``--n`` held-out digits; a cascade of
APGD-CE (100 iterations), APGD-T (3 targets, 100 iterations) and Square (1000 queries) at Linf 0.1.

* one by one: ``alignjax.sweep.units.run_unit`` (``run_autoattack`` + margins) per checkpoint, as a
  sweep runs units of a model with ``stack = false``;
* stacked: ``alignjax.sweep.units.run_stacked`` on the 4 checkpoints at once (one vmapped program
  per attack), as a sweep runs a stack group.

Each mode is timed after one warm-up call that compiles it (the compile time is reported separately).
Points per second = 4 x n / seconds. The script also checks that both modes give the same per-point
results (robust flags, broken_by, predictions).

    python benchmarks/sweep_vmap.py [--n 397] [--batch-size 500] [--repeat 1]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alignjax.attacks import APGDConfig, SquareConfig
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
from alignjax.sweep.grid import Unit
from alignjax.sweep.units import run_stacked, run_unit

EPS = 0.1
CHECKPOINTS = 4


def checkpoints(variables, count: int):
    rng = np.random.default_rng(0)
    return [jax.tree.map(lambda a, i=i: (a + 0.03 * i * rng.standard_normal(a.shape)).astype(np.float32), variables)
            for i in range(count)]


def one_by_one(logits_fn, models, x, y, attacks, batch_size):
    unit = Unit("bench", "bench", "", "digits", "Linf", EPS, "bench", 0, attacks, "")
    return [run_unit(unit, logits_fn, v, x, y, batch_size=batch_size, state_dir=None, checkpoint_seconds=1e9,
                     run_checks=False) for v in models]


def stacked(logits_fn, models, x, y, attacks, batch_size):
    return run_stacked(logits_fn, models, x, y, attacks=attacks, key=jax.random.key(0), batch_size=batch_size,
                       run_checks=False)


def timed(fn, repeat: int):
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), first - min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=397)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    logits_fn, variables = load_embedded()
    split = digits_split("test")
    x, y = split.x[: args.n], split.y[: args.n]
    models = checkpoints(variables, CHECKPOINTS)
    attacks = (APGDConfig("Linf", EPS, loss="ce"), APGDConfig("Linf", EPS, loss="dlr-targeted", n_target_classes=3),
               SquareConfig("Linf", EPS, n_queries=1000))
    print(f"{platform.machine()} {platform.processor() or ''} | python {platform.python_version()} | jax "
          f"{jax.__version__} on {jax.devices()[0].device_kind} x{jax.local_device_count()} | "
          f"{CHECKPOINTS} checkpoints x {len(y)} points | batch {args.batch_size}")
    rows = {}
    for name, fn in (("one by one", one_by_one), ("stacked (vmap)", stacked)):
        seconds, compile_seconds, outcomes = timed(lambda fn=fn: fn(logits_fn, models, x, y, attacks,
                                                                    args.batch_size), args.repeat)
        rows[name] = outcomes
        rate = CHECKPOINTS * len(y) / seconds
        robust = ", ".join(f"{o.robust_accuracy:.2f}" for o in outcomes)
        print(f"{name:>15}: {seconds:8.2f} s  {rate:8.1f} points/s  (compile+first run extra {compile_seconds:6.2f} s)"
              f"  robust % {robust}")
    same = all(np.array_equal(a.robust, b.robust) and np.array_equal(a.broken_by, b.broken_by)
               and np.array_equal(a.adv_prediction, b.adv_prediction)
               for a, b in zip(rows["one by one"], rows["stacked (vmap)"], strict=True))
    print(f"same per-point results: {same}")


if __name__ == "__main__":
    main()
