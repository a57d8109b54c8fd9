"""Brain-Score's cross-validation splits, reproduced index for index without scikit-learn.

Brain-Score scores neural predictivity over 10 shuffle splits with 90 % of the stimuli for fitting,
``random_state=1``, stratified by a stimulus coordinate (``object_name`` for MajajHong2015,
``texture_type`` for FreemanZiemba2013) or not stratified; its split-half ceiling draws 10 halves of the
unique repetition values with ``ShuffleSplit(train_size=0.5, random_state=1)``.
References: brain-score/vision@d07d3569 ``brainscore_vision/metric_helpers/transformations.py``
(``Split``, ``Split.Defaults``: 10 splits, train 0.9, ``random_state=1``) and scikit-learn 1.9
``sklearn/model_selection/_split.py`` (``ShuffleSplit._iter_indices``,
``StratifiedShuffleSplit._iter_indices``, ``_validate_shuffle_split``) with
``sklearn/utils/extmath.py::_approximate_mode``. The same ``numpy.random.RandomState`` calls are made
in the same order, so the indices equal scikit-learn's (tested against it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence

import numpy as np

BRAINSCORE_SPLITS = 10
BRAINSCORE_TRAIN_SIZE = 0.9
BRAINSCORE_RANDOM_STATE = 1


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """How stimuli are split. ``train_size`` and ``test_size`` follow scikit-learn: a float is a fraction,
    ``test_size=None`` means the complement of the training set."""

    n_splits: int = BRAINSCORE_SPLITS
    train_size: float = BRAINSCORE_TRAIN_SIZE
    test_size: float | None = None
    random_state: int = BRAINSCORE_RANDOM_STATE


def split_sizes(n_samples: int, train_size: float, test_size: float | None) -> tuple[int, int]:
    """scikit-learn's ``_validate_shuffle_split`` for the cases Brain-Score uses (fractions or counts)."""
    for name, value in (("train_size", train_size), ("test_size", test_size)):
        if value is None:
            continue
        if isinstance(value, float) and not 0 < value < 1:
            raise ValueError(f"{name}={value} must be a fraction in (0, 1) or a count")
        if isinstance(value, int) and not 0 < value < n_samples:
            raise ValueError(f"{name}={value} must be positive and smaller than the {n_samples} samples")
    n_test = None if test_size is None else (
        math.ceil(test_size * n_samples) if isinstance(test_size, float) else test_size)
    n_train = math.floor(train_size * n_samples) if isinstance(train_size, float) else train_size
    if n_test is None:
        n_test = n_samples - n_train
    if n_train + n_test > n_samples:
        raise ValueError(f"train ({n_train}) + test ({n_test}) exceed the {n_samples} samples")
    if n_train == 0:
        raise ValueError(f"{n_samples} samples leave an empty training set at train_size={train_size}")
    return int(n_train), int(n_test)


def shuffle_splits(n_samples: int, config: SplitConfig = SplitConfig()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``ShuffleSplit(n_splits, train_size, test_size, random_state).split(range(n_samples))``."""
    n_train, n_test = split_sizes(n_samples, config.train_size, config.test_size)
    rng = np.random.RandomState(config.random_state)
    for _ in range(config.n_splits):
        permutation = rng.permutation(n_samples)
        yield permutation[n_test:n_test + n_train], permutation[:n_test]


def approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's ``_approximate_mode``: per-class draws, remainders broken by random choice."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (indices,) = np.where(remainder == value)
            add_now = min(len(indices), need_to_add)
            indices = rng.choice(indices, size=add_now, replace=False)
            floored[indices] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_shuffle_splits(
    labels: Sequence | np.ndarray, config: SplitConfig = SplitConfig()
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``StratifiedShuffleSplit(n_splits, train_size, test_size, random_state).split(X, labels)``.

    Raises:
      ValueError: a class with fewer than 2 members, or fewer train/test slots than classes (the
        reference's checks and messages).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratification labels must be 1-D, got shape {labels.shape}")
    n_samples = len(labels)
    n_train, n_test = split_sizes(n_samples, config.train_size, config.test_size)
    classes, label_indices, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if np.min(class_counts) < 2:
        raise ValueError(
            f"stratification classes with fewer than 2 members: {classes[class_counts < 2].tolist()}"
        )
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError(
            f"{len(classes)} stratification classes need at least as many train ({n_train}) and test "
            f"({n_test}) stimuli"
        )
    class_indices = np.split(np.argsort(label_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(config.random_state)
    for _ in range(config.n_splits):
        n_i = approximate_mode(class_counts, n_train, rng)
        t_i = approximate_mode(class_counts - n_i, n_test, rng)
        train: list[int] = []
        test: list[int] = []
        for index in range(len(classes)):
            permutation = rng.permutation(class_counts[index])
            members = class_indices[index].take(permutation, mode="clip")
            train.extend(members[: n_i[index]])
            test.extend(members[n_i[index]: n_i[index] + t_i[index]])
        yield rng.permutation(train), rng.permutation(test)


def brainscore_splits(
    n_samples: int, stratification: Sequence | np.ndarray | None, config: SplitConfig = SplitConfig()
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Brain-Score's ``Split.build_splits``: stratified when labels are given, else plain shuffle splits.

    Indices refer to the target assembly's stimulus order (Brain-Score builds splits on the target).
    """
    if stratification is None:
        return list(shuffle_splits(n_samples, config))
    if len(stratification) != n_samples:
        raise ValueError(f"{len(stratification)} stratification labels for {n_samples} stimuli")
    return list(stratified_shuffle_splits(stratification, config))
