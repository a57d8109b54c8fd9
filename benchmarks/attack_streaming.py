"""Attacking a folder of JPEGs streamed from disk vs the same images preloaded as a float32 array.

Writes ``--num-images`` generated 224 px JPEGs (smooth structure plus noise, quality 90) into a flat
folder with a labels CSV, labelled with a tiny random-weight model's own predictions so that every
point is clean-correct and gets attacked. Then, each in a fresh subprocess (so that peak memory is
the process's own):

- ``preloaded``: decode every image into one float32 array (timed apart), then ``run_autoattack`` on it;
- ``streamed``: ``attack_data(folder)`` (files decoded on 2 threads, one batch ahead, uint8 until the
  batch is due) and ``run_autoattack`` on it.

Both compile first on one batch (not timed). Printed per run: attack wall seconds, CPU seconds of the
process, peak resident memory (``ru_maxrss``), and whether the per-point results are identical.
``--interleave K`` adds a timing-only run robust to a shared machine's changing load: one process
attacks K consecutive slices of the data, each from the preloaded array and streamed, in ABBA order,
and sums each mode's wall and CPU seconds. The
model is ``small_cnn`` with widths (2, 4) and hidden 8 (10 classes) at 224 px; the attack APGD-CE,
Linf 1/255, ``--n-iter`` iterations, one restart, batch ``--batch-size``.

    python benchmarks/attack_streaming.py --num-images 2000 --n-iter 5 --batch-size 100
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.data.attack_input import attack_data
from alignjax.data.preprocessing import decode_image, to_float01, to_uint8
from alignjax.data.sources import open_dataset
from alignjax.data.streaming import host_batches
from alignjax.models.embedded import unflatten
from alignjax.models.registry import build_architecture
from alignjax.weights.convert import logits_fn_for

SIZE, CLASSES = 224, 10


def tiny_model():
    """(logits_fn, variables): small_cnn (2, 4) / 8 at 224 px, LeCun-normal weights from seed 0."""
    from flax import traverse_util

    module = build_architecture("small_cnn", num_classes=CLASSES, widths=(2, 4), hidden=8)
    shapes = jax.eval_shape(module.init, jax.random.key(0), np.zeros((1, SIZE, SIZE, 3), np.float32))
    rng = np.random.default_rng(0)
    flat = {
        name: (rng.normal(size=leaf.shape) / np.sqrt(np.prod(leaf.shape[:-1]))).astype(np.float32)
        if name.endswith("kernel") else np.zeros(leaf.shape, np.float32)
        for name, leaf in traverse_util.flatten_dict(dict(shapes), sep="/").items()
    }
    return logits_fn_for(module), unflatten(flat)


def write_folder(folder: Path, count: int, batch_size: int) -> None:
    logits_fn, variables = tiny_model()
    predict = jax.jit(lambda x: logits_fn(variables, x).argmax(-1))
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    (folder / "images").mkdir(parents=True)
    rows = ["file,label"]
    for start in range(0, count, batch_size):
        encoded, decoded = [], []
        for index in range(start, min(start + batch_size, count)):
            phase = rng.uniform(0, 255, 3)
            base = np.stack([xx * 255 / SIZE + phase[0], yy * 255 / SIZE + phase[1], (xx + yy) % 97 * 2.6 + phase[2]], -1)
            pixels = np.clip(base % 256 + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            encoded.append(buffer.getvalue())
            decoded.append(to_uint8(decode_image(buffer.getvalue())))
        labels = np.asarray(predict(to_float01(np.stack(decoded))))
        for offset, (data, label) in enumerate(zip(encoded, labels, strict=True)):
            name = f"{start + offset:05d}.JPEG"
            (folder / "images" / name).write_bytes(data)
            rows.append(f"{name},{int(label)}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


def _timed(logits_fn, variables, images, labels, options) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_autoattack(logits_fn, variables, images, labels, **options)
    return time.perf_counter() - wall, time.process_time() - cpu, result.robust


def interleaved(folder: Path, slices: int, n_iter: int, batch_size: int, threads: int) -> None:
    """Slices of the data attacked from the array and streamed in ABBA order; per-mode sums."""
    from alignjax.data.arrays import Subset
    from alignjax.data.attack_input import prepare_for_attack

    logits_fn, variables = tiny_model()
    attacks = (APGDConfig("Linf", 1 / 255, n_iter=n_iter, n_restarts=1, loss="ce"),)
    options = {"attacks": attacks, "key": jax.random.key(0), "batch_size": batch_size, "run_checks": False}
    dataset = open_dataset(folder / "images", labels=folder / "labels.csv")
    x = np.empty((len(dataset), SIZE, SIZE, 3), np.float32)
    labels = np.empty(len(dataset), np.int32)
    for batch in host_batches(dataset, batch_size=batch_size, num_threads=threads):
        x[batch.index], labels[batch.index] = to_float01(batch.x), batch.y
    bounds = np.linspace(0, len(dataset), slices + 1).astype(int)
    warm = prepare_for_attack(Subset(dataset, tuple(range(batch_size)), "warm-up"), num_threads=threads)
    run_autoattack(logits_fn, variables, warm.images, warm.labels, **options)  # compile
    totals = {"preloaded": [0.0, 0.0], "streamed": [0.0, 0.0]}
    same = True
    for index, (start, stop) in enumerate(itertools.pairwise(bounds)):
        part = Subset(dataset, tuple(range(start, stop)), f"slice {index}")
        streamed = prepare_for_attack(part, num_threads=threads)
        order = ("preloaded", "streamed") if index % 2 == 0 else ("streamed", "preloaded")
        robust = {}
        for mode in order:
            images = x[start:stop] if mode == "preloaded" else streamed.images
            wall, cpu, robust[mode] = _timed(logits_fn, variables, images, labels[start:stop], options)
            totals[mode][0] += wall
            totals[mode][1] += cpu
        same &= bool(np.array_equal(robust["preloaded"], robust["streamed"]))
    print(json.dumps({"mode": "interleaved", "slices": slices, "points": len(dataset), "identical": same,
                      **{f"{mode}_{what}_s": round(value, 2) for mode, (wall, cpu) in totals.items()
                         for what, value in (("wall", wall), ("cpu", cpu))}}))


def child(mode: str, folder: Path, n_iter: int, batch_size: int, threads: int, out: Path) -> None:
    logits_fn, variables = tiny_model()
    attacks = (APGDConfig("Linf", 1 / 255, n_iter=n_iter, n_restarts=1, loss="ce"),)
    options = {"attacks": attacks, "key": jax.random.key(0), "batch_size": batch_size, "run_checks": False}
    source = {"labels": folder / "labels.csv"}
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    load_seconds = 0.0
    # compile on one batch first (not timed)
    warm = attack_data(folder / "images", n=batch_size, num_threads=threads, **source)
    run_autoattack(logits_fn, variables, warm.images, warm.labels, **options)
    warm_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if mode == "preloaded":
        start = time.perf_counter()
        dataset = open_dataset(folder / "images", **source)
        x = np.empty((len(dataset), SIZE, SIZE, 3), np.float32)
        labels = np.empty(len(dataset), np.int32)
        for batch in host_batches(dataset, batch_size=batch_size, num_threads=threads):
            x[batch.index] = to_float01(batch.x)
            labels[batch.index] = batch.y
        load_seconds = time.perf_counter() - start
        images = x
    else:
        data = attack_data(folder / "images", num_threads=threads, num_classes=CLASSES, **source)
        images, labels = data.images, data.labels
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_autoattack(logits_fn, variables, images, labels, **options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    np.savez(out, robust=result.robust, y_adv=result.y_adv, norm=result.perturbation_norm,
             clean=result.clean_correct)
    print(json.dumps({
        "mode": mode, "attack_wall_s": round(wall, 2), "attack_cpu_s": round(cpu, 2),
        "load_wall_s": round(load_seconds, 2), "baseline_rss_mb": round(baseline_rss / 2**20),
        "after_compile_rss_mb": round(warm_rss / 2**20),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "clean_accuracy": result.clean_accuracy, "robust_accuracy": result.robust_accuracy,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--n-iter", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two modes this many times")
    parser.add_argument("--interleave", type=int, default=0, help="also time K slices in ABBA order")
    parser.add_argument("--skip-separate", action="store_true", help="only the --interleave timing")
    parser.add_argument("--child", choices=("preloaded", "streamed", "interleaved"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "interleaved":
        interleaved(args.folder, args.interleave, args.n_iter, args.batch_size, args.threads)
        return
    if args.child:
        child(args.child, args.folder, args.n_iter, args.batch_size, args.threads, args.out)
        return
    float32_mb = args.num_images * SIZE * SIZE * 3 * 4 / 2**20
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {args.num_images} JPEGs of {SIZE} px; "
          f"float32 array: {float32_mb:.0f} MiB; APGD-CE n_iter={args.n_iter}, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_folder(folder, args.num_images, args.batch_size)
        size_mb = sum(p.stat().st_size for p in (folder / "images").iterdir()) / 2**20
        print(f"wrote the folder ({size_mb:.0f} MiB of JPEG) in {time.perf_counter() - start:.0f} s")
        if args.interleave:
            command = [sys.executable, __file__, "--child", "interleaved", "--folder", str(folder),
                       "--interleave", str(args.interleave), "--n-iter", str(args.n_iter),
                       "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
            line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
            timing = json.loads(line.splitlines()[-1])
            print(line.splitlines()[-1])
            print(f"interleaved: streamed/preloaded wall {timing['streamed_wall_s'] / timing['preloaded_wall_s'] - 1:+.1%}, "
                  f"CPU {timing['streamed_cpu_s'] / timing['preloaded_cpu_s'] - 1:+.1%}", flush=True)
        if args.skip_separate:
            return
        results: dict[str, list[dict]] = {"preloaded": [], "streamed": []}
        for repeat in range(args.repeats):
            for mode in ("preloaded", "streamed"):
                out = folder / f"{mode}-{repeat}.npz"
                command = [sys.executable, __file__, "--child", mode, "--folder", str(folder), "--out", str(out),
                           "--n-iter", str(args.n_iter), "--batch-size", str(args.batch_size),
                           "--threads", str(args.threads)]
                line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
                results[mode].append(json.loads(line.splitlines()[-1]))
                print(line.splitlines()[-1], flush=True)
        with np.load(folder / "preloaded-0.npz") as a, np.load(folder / "streamed-0.npz") as b:
            same = all(np.array_equal(a[k], b[k]) for k in a.files)
        best = {mode: min(r["attack_wall_s"] for r in runs) for mode, runs in results.items()}
        cpu = {mode: min(r["attack_cpu_s"] for r in runs) for mode, runs in results.items()}
        print(f"per-point results identical: {same}")
        print(f"attack wall (best): preloaded {best['preloaded']} s, streamed {best['streamed']} s "
              f"({best['streamed'] / best['preloaded'] - 1:+.1%}); CPU {cpu['preloaded']} vs {cpu['streamed']} s "
              f"({cpu['streamed'] / cpu['preloaded'] - 1:+.1%})")
        print(f"peak RSS: preloaded {max(r['peak_rss_mb'] for r in results['preloaded'])} MiB, streamed "
              f"{max(r['peak_rss_mb'] for r in results['streamed'])} MiB (float32 images alone: {float32_mb:.0f} MiB)")


if __name__ == "__main__":
    main()
