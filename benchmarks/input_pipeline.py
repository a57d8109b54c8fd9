"""Throughput of the ImageNet input pipeline on this machine's CPU.

Writes ``--num-images`` random JPEGs (sides 256-500 px, smooth structure plus noise, quality 90) into a
temporary folder, then streams them through ``stream_batches`` (PIL decode, ``Res256Crop224``, uint8,
fixed batches, device prefetch) with 1 and 2 decoding threads, and prints images per wall-clock second
and per CPU second of the process (the latter is meaningful on a shared, loaded machine). A plain serial
loop (decode + transform, no batching) is timed as a baseline. Each figure is the best of --repeats.

    python benchmarks/input_pipeline.py --num-images 512 --batch-size 64 --threads 1 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from alignjax.data.folders import image_folder
from alignjax.data.preprocessing import load_and_transform, robustbench_transform
from alignjax.data.streaming import stream_batches


def write_jpegs(folder: Path, count: int, *, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for index in range(count):
        height, width = (int(side) for side in rng.integers(256, 501, size=2))
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 97 * 2.6], axis=-1)
        image = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"n{index % 10:08d}" / f"{index:05d}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, quality=90)


def time_serial(dataset, transform) -> tuple[float, float]:
    """(images per wall second, images per CPU second of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(len(dataset)):
        load_and_transform(dataset[index][0], transform)
    return len(dataset) / (time.perf_counter() - wall), len(dataset) / (time.process_time() - cpu)


def time_stream(dataset, transform, *, batch_size: int, threads: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    count = 0
    for batch in stream_batches(dataset, batch_size=batch_size, transform=transform, num_threads=threads):
        batch.x.block_until_ready()
        count += int(jax.device_get(batch.valid).sum())
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    transform = robustbench_transform("Res256Crop224")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_jpegs(folder, args.num_images)
        print(f"wrote {args.num_images} JPEGs (256-500 px) in {time.perf_counter() - start:.1f} s")
        dataset = image_folder(folder)
        serial = max(time_serial(dataset, transform) for _ in range(args.repeats))
        print(
            f"serial decode+Res256Crop224, no batching: {serial[0]:7.1f} images/s "
            f"({serial[1]:6.1f} per CPU-s)"
        )
        platform = jax.devices()[0].platform
        for threads in args.threads:
            rate = max(
                time_stream(dataset, transform, batch_size=args.batch_size, threads=threads)
                for _ in range(args.repeats)
            )
            print(
                f"stream_batches threads={threads} batch={args.batch_size} uint8 -> {platform}: "
                f"{rate[0]:7.1f} images/s ({rate[1]:6.1f} per CPU-s)"
            )


if __name__ == "__main__":
    main()
