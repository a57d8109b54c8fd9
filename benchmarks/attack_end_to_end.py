"""End to end: `alignjax attack` in fresh processes, with an empty and with a filled compilation cache.

Each repeat makes a fresh ``ALIGNJAX_CACHE`` and runs the same command twice: the cold run compiles
every program and fills the persistent compilation cache, the cached run reads them back. Prints both
wall times (process start to exit: imports, data, clean pass, compiling, the cascade, writing), their
ratio, both processes' CPU seconds (user + system: what a busy shared machine inflates least), the
cascade's own seconds (summary.json), the cache's size, and whether both runs gave the same points. The default command is the README's first, ``alignjax attack``: the embedded digits CNN,
standard cascade, Linf 0.1, all 397 test digits.

    python benchmarks/attack_end_to_end.py                  # the README's first command
    python benchmarks/attack_end_to_end.py --n 20 -- --version custom --attacks apgd-ce   # a quick check
    python benchmarks/attack_speed.py --end-to-end          # the same, from the speed harness
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_attack(argv: list[str], cache_root: Path, out: Path) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, summary.json) of one ``alignjax attack`` process with the cache under
    ``cache_root``."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("ALIGNJAX_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    env["ALIGNJAX_CACHE"] = str(cache_root)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, "-m", "alignjax.cli", "attack", *argv, "--no-progress", "--out", str(out)]
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    seconds, cpu_seconds = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, cpu_seconds, json.loads((out / "summary.json").read_text())


def cache_size(cache_root: Path) -> tuple[int, float]:
    """(entries, MiB) of the compilation cache's versioned folder(s)."""
    entries = list((cache_root / "xla").glob("*/*-cache"))
    return len(entries), sum(p.stat().st_size for p in entries) / 2**20


def measure_pair(argv: list[str]) -> dict:
    """Cold and cached wall and cascade seconds with a fresh cache, its size, and whether the points match."""
    with tempfile.TemporaryDirectory(prefix="alignjax-e2e-") as folder:
        root = Path(folder)
        cold_s, cold_cpu_s, cold = run_attack(argv, root / "cache", root / "cold")
        entries, mib = cache_size(root / "cache")
        cached_s, cached_cpu_s, cached = run_attack(argv, root / "cache", root / "cached")
        points = [(root / run / "points.parquet").read_bytes() for run in ("cold", "cached")]
    return {"cold_s": cold_s, "cached_s": cached_s, "cold_cpu_s": cold_cpu_s, "cached_cpu_s": cached_cpu_s,
            "cold_attack_s": cold["seconds"],
            "cached_attack_s": cached["seconds"], "robust_cold": cold["robust_accuracy"],
            "robust_cached": cached["robust_accuracy"], "same_points": points[0] == points[1],
            "cache_entries": entries, "cache_mib": mib}


def report(argv: list[str], repeat: int = 1) -> list[dict]:
    """Measures ``repeat`` pairs, printing a line per pair (and the medians); returns the rows."""
    print(f"# {time.strftime('%Y-%m-%d')} | {platform.machine()}, {os.cpu_count()} CPUs | Python "
          f"{platform.python_version()} | alignjax attack {' '.join(argv)} (fresh processes, fresh cache "
          "each pair)", flush=True)
    print(f"{'pair':6} {'cold s':>7} {'cached s':>8} {'cached/cold':>11} {'CPU s cold/cached':>18} "
          f"{'attack s cold/cached':>21} {'entries':>7} {'MiB':>6}  robust% cold/cached, same points", flush=True)
    rows = []
    for index in range(repeat):
        row = measure_pair(argv)
        rows.append(row)
        ratio = row["cached_s"] / row["cold_s"]
        print(f"{index + 1:<6} {row['cold_s']:7.2f} {row['cached_s']:8.2f} {ratio:11.2f} "
              f"{row['cold_cpu_s']:9.2f}/{row['cached_cpu_s']:<8.2f} "
              f"{row['cold_attack_s']:10.2f}/{row['cached_attack_s']:<10.2f} {row['cache_entries']:7d} "
              f"{row['cache_mib']:6.1f}  {row['robust_cold']:.2f}/{row['robust_cached']:.2f}, "
              f"{'yes' if row['same_points'] else 'NO'}", flush=True)
    if repeat > 1:
        cold, cached, cold_cpu, cached_cpu = (statistics.median(r[key] for r in rows)
                                              for key in ("cold_s", "cached_s", "cold_cpu_s", "cached_cpu_s"))
        print(f"{'median':6} {cold:7.2f} {cached:8.2f} {cached / cold:11.2f} {cold_cpu:9.2f}/{cached_cpu:<8.2f}",
              flush=True)
    return rows


def attack_argv(n: int | None, batch_size: int | None, extra: list[str]) -> list[str]:
    sizes = [*(["--n", str(n)] if n else []), *(["--batch-size", str(batch_size)] if batch_size else [])]
    return [*sizes, *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="points (default: the command's, all 397 digits)")
    parser.add_argument("--batch-size", type=int, help="default: the command's (500)")
    parser.add_argument("--repeat", type=int, default=1, help="cold/cached pairs, each with a fresh cache")
    parser.add_argument("extra", nargs="*", help="more `alignjax attack` arguments, after --")
    args = parser.parse_args()
    report(attack_argv(args.n, args.batch_size, args.extra), args.repeat)


if __name__ == "__main__":
    main()
