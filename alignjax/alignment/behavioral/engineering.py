"""Engineering scores: ImageNet top-1 on the user's validation set and ImageNet-C top-1 when supplied.

brain-score/vision@d07d356 ``benchmarks/imagenet/benchmark.py`` (``ImageNet-top1``: 1000-way argmax,
Brain-Score's ``Accuracy``: mean and std of per-image correctness) and ``benchmarks/imagenet_c/benchmark.py``
(``ImageNet-C-{noise,blur,weather,digital}-top1``: the accuracy over all images of the category's
corruption types and severities 1-5; ``ImageNet-C-top1`` is the mean of the four). Brain-Score keeps every
10th row of its stimulus CSVs (``sampling_factor=10``); its CSV order is not public, so here every
``sampling_factor``-th file of each (corruption, severity) folder in sorted path order is kept: the
same fraction, not the same images. ImageNet-C layout (Hendrycks & Dietterich 2019 release):
``<root>/<corruption>/<severity>/<wnid>/<file>.JPEG``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.alignment.behavioral import imagenet16
from alignjax.data.folders import has_image_extension
from alignjax.data.imagenet import imagenet_class_to_index

IMAGENET_C_CATEGORIES = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("glass_blur", "motion_blur", "zoom_blur", "defocus_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("pixelate", "contrast", "elastic_transform", "jpeg_compression"),
}
SEVERITIES = (1, 2, 3, 4, 5)
IMAGENET_C_SCHEMA = pl.Schema(
    {
        "category": pl.String,
        "corruption": pl.String,
        "severity": pl.Int64,
        "path": pl.String,
        "label": pl.Int64,
    }
)


def top1(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Brain-Score's ``Accuracy`` of the 1000-way argmax: (mean, std ddof 0) of per-image correctness."""
    correct = (imagenet16.imagenet_top1(logits) == np.asarray(labels)).astype(np.float64)
    return float(correct.mean()), float(correct.std())


def imagenet_c_files(root: str | PathLike, *, sampling_factor: int = 10) -> pl.DataFrame:
    """The ImageNet-C images under ``root`` (``IMAGENET_C_SCHEMA``), every ``sampling_factor``-th per
    (corruption, severity) in sorted path order. Only corruptions present are listed; a corruption folder
    without all five severities is an error."""
    if sampling_factor < 1:
        raise ValueError(f"sampling_factor must be >= 1, got {sampling_factor}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet-C folder {root} does not exist")
    class_to_index = imagenet_class_to_index()
    rows = []
    for category, corruptions in IMAGENET_C_CATEGORIES.items():
        for corruption in corruptions:
            if not (root / corruption).is_dir():
                continue
            for severity in SEVERITIES:
                folder = root / corruption / str(severity)
                if not folder.is_dir():
                    raise FileNotFoundError(f"ImageNet-C {corruption} lacks severity {severity} ({folder})")
                files = sorted(path for path in folder.glob("*/*") if has_image_extension(path.name))
                unknown = sorted({path.parent.name for path in files} - set(class_to_index))
                if unknown:
                    raise ValueError(f"{folder}: class folders {unknown[:3]} are not ImageNet wnids")
                for path in files[::sampling_factor]:
                    rows.append((category, corruption, severity, str(path), class_to_index[path.parent.name]))
    if not rows:
        raise FileNotFoundError(
            f"no ImageNet-C corruption folders under {root}; expected e.g. {root}/gaussian_noise/1/"
        )
    return pl.DataFrame(rows, schema=IMAGENET_C_SCHEMA, orient="row")


def imagenet_c_scores(files: pl.DataFrame, logits: np.ndarray) -> pl.DataFrame:
    """Per category (``ImageNet-C-<category>-top1``) and overall (``ImageNet-C-top1``, mean of the
    categories present): columns benchmark, value, error, n_stimuli."""
    correct = imagenet16.imagenet_top1(logits) == files["label"].to_numpy()
    frame = files.with_columns(pl.Series("correct", correct).cast(pl.Float64))
    per_category = (
        frame.group_by("category", maintain_order=True)
        .agg(
            pl.col("correct").mean().alias("value"),
            pl.col("correct").std(ddof=0).alias("error"),
            pl.len().cast(pl.Int64).alias("n_stimuli"),
        )
        .with_columns(pl.format("ImageNet-C-{}-top1", pl.col("category")).alias("benchmark"))
    )
    overall = pl.DataFrame(
        {
            "benchmark": ["ImageNet-C-top1"],
            "value": [per_category["value"].mean()],
            "error": [per_category["value"].std(ddof=0)],
            "n_stimuli": [int(per_category["n_stimuli"].sum())],
        }
    )
    return pl.concat([per_category.select("benchmark", "value", "error", "n_stimuli"), overall])
