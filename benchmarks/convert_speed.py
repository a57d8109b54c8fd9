"""Checkpoint conversion speed: a ResNet-50-sized torch.save file -> Flax safetensors, vs torch.load.

Setup (not timed): random weights under torchvision's ResNet-50 names (25.6 M parameters, 102 MB of
float32) written with ``torch.save`` in the zip format (and, with ``--legacy``, the legacy format).
Timed: ``alignjax.weights.convert.convert_checkpoint`` (read without torch, key map, strict check
against the Flax module, sha256 of the source, safetensors write) and ``torch.load`` of the same file,
best of ``--repeats`` runs each after one warm-up. Target: conversion < 3 s on the 2-core CPU.

Run: ``python benchmarks/convert_speed.py [--repeats 3] [--legacy]``. torch is only needed for the
setup and the baseline.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path


def resnet50_shapes(num_classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """torchvision ``resnet50`` state-dict names and shapes (pytorch/vision ``models/resnet.py``)."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def batch_norm(prefix: str, channels: int) -> None:
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{leaf}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    batch_norm("bn1", 64)
    in_planes = 64
    for layer, (blocks, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            prefix = f"layer{layer}.{block}"
            shapes[f"{prefix}.conv1.weight"] = (planes, in_planes, 1, 1)
            batch_norm(f"{prefix}.bn1", planes)
            shapes[f"{prefix}.conv2.weight"] = (planes, planes, 3, 3)
            batch_norm(f"{prefix}.bn2", planes)
            shapes[f"{prefix}.conv3.weight"] = (planes * 4, planes, 1, 1)
            batch_norm(f"{prefix}.bn3", planes * 4)
            if block == 0:
                shapes[f"{prefix}.downsample.0.weight"] = (planes * 4, in_planes, 1, 1)
                batch_norm(f"{prefix}.downsample.1", planes * 4)
            in_planes = planes * 4
    shapes["fc.weight"] = (num_classes, 2048)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def write_checkpoint(path: Path, legacy: bool) -> int:
    import torch

    generator = torch.Generator().manual_seed(0)
    state_dict = {}
    for name, shape in resnet50_shapes().items():
        if name.endswith("num_batches_tracked"):
            state_dict[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state_dict[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state_dict[name] = torch.randn(shape, generator=generator) * 0.01
    torch.save(state_dict, path, _use_new_zipfile_serialization=not legacy)
    return sum(v.numel() for k, v in state_dict.items() if "running" not in k and "num_batches" not in k)


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up: imports, jax tracing caches, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--legacy", action="store_true", help="also time the legacy (non-zip) format")
    args = parser.parse_args()

    import torch

    from alignjax.weights.convert import convert_checkpoint
    from alignjax.weights.readers import read_state_dict

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        for legacy in (False, True) if args.legacy else (False,):
            source = Path(tmp) / ("resnet50_legacy.pth" if legacy else "resnet50.pth")
            params = write_checkpoint(source, legacy)
            out = Path(tmp) / "resnet50.safetensors"
            t_convert = best_of(functools.partial(convert_checkpoint, source, "resnet50", out), args.repeats)
            t_read = best_of(functools.partial(read_state_dict, source), args.repeats)
            t_torch = best_of(functools.partial(torch.load, source, map_location="cpu", weights_only=True),
                              args.repeats)
            fmt = "legacy" if legacy else "zip"
            print(f"format={fmt} params={params / 1e6:.1f}M file={source.stat().st_size / 1e6:.0f}MB")
            print(f"  convert_checkpoint (read+map+check+sha256+write): {t_convert:.3f} s "
                  f"(target < 3 s) -> {'PASS' if t_convert < 3.0 else 'FAIL'}")
            print(f"  read_state_dict alone: {t_read:.3f} s")
            print(f"  torch.load: {t_torch:.3f} s; convert / torch.load = {t_convert / t_torch:.1f}x, "
                  f"read / torch.load = {t_read / t_torch:.1f}x")


if __name__ == "__main__":
    main()
