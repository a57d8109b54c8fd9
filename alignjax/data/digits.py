"""sklearn's 8x8 digits, shipped with the package (see DIGITS_LICENSE.md), as NHWC floats in [0, 1].

The split is fixed: a seeded permutation (numpy ``default_rng(0)``) of the 1797 images, first 1400
for training, last 397 for evaluation. Pixels are counts 0..16, scaled by 1/16.
"""

from __future__ import annotations

import gzip
from importlib import resources
from typing import NamedTuple

import numpy as np

N_TRAIN = 1400


class Split(NamedTuple):
    x: np.ndarray  # (n, 8, 8, 1) float32 in [0, 1]
    y: np.ndarray  # (n,) int32


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 images (n, 8, 8, 1) float32 in [0, 1] and labels (n,) int32, in file order."""
    with resources.files("alignjax.data").joinpath("digits.csv.gz").open("rb") as raw, \
            gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    x = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    y = table[:, 64].astype(np.int32)
    return x, y


def digits_split(which: str) -> Split:
    """The fixed 'train' (1400) or 'test' (397) split."""
    x, y = load_digits_arrays()
    order = np.random.default_rng(0).permutation(len(x))
    if which == "train":
        idx = order[:N_TRAIN]
    elif which == "test":
        idx = order[N_TRAIN:]
    else:
        raise ValueError(f"unknown split {which!r}; use 'train' or 'test'")
    return Split(x[idx], y[idx])
