"""Label decisions of ImageNet-1k models: the 16 Geirhos categories and the extended Brain-Score labels.

A label's probability is the **mean** softmax probability over its ImageNet classes, and the decision is
the most probable label (Geirhos et al., NeurIPS 2021; bethgelab/model-vs-human@79ed7cd
``modelvshuman/datasets/decision_mappings.py::ImageNetProbabilitiesTo16ClassesMapping`` with
``helper/human_categories.py``; Brain-Score's ``LabelBehavior.logits_to_choice``,
brain-score/vision@d07d356 ``model_helpers/brain_transformation/behavior.py``). The class lists are
package data (``imagenet16.json``: indices and WordNet ids per label, with their sources).

Ties: Brain-Score takes ``argmax`` over the requested labels in the order given (the first maximum);
model-vs-human sorts descending with ``np.flip(np.argsort(...))`` (the last maximum in its sorted label
order). Exact ties of float probabilities do not occur for real models; this module takes the first.
The softmax is computed in float64 with the maximum subtracted; Brain-Score's ``np.exp(x) / sum`` on the
float32 logits is the same up to rounding but overflows for logits above ~88.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources

import numpy as np

NUM_IMAGENET_CLASSES = 1000


@functools.cache
def _data() -> dict:
    text = resources.files("alignjax.alignment.behavioral").joinpath("imagenet16.json").read_text()
    return json.loads(text)


@functools.cache
def label_indices() -> Mapping[str, tuple[int, ...]]:
    """Every known label (the 16 categories and the extended ones) -> its ImageNet class indices."""
    data = _data()
    table = {name: tuple(entry["indices"]) for name, entry in data["categories"].items()}
    table.update({name: tuple(entry["indices"]) for name, entry in data["extra_labels"].items()})
    return table


@functools.cache
def categories() -> tuple[str, ...]:
    """The 16 Geirhos categories, sorted (model-vs-human's ``get_human_object_recognition_categories``)."""
    return tuple(sorted(_data()["categories"]))


def indices_of(label: str) -> tuple[int, ...]:
    """ImageNet indices of a label; multi-word labels are lower-cased without spaces, as Brain-Score does."""
    key = label.lower().replace(" ", "")
    try:
        return label_indices()[key]
    except KeyError:
        raise ValueError(
            f"no ImageNet classes for label {label!r}; known: {sorted(label_indices())}"
        ) from None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def label_probabilities(probabilities: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """(n, 1000) ImageNet probabilities -> (n, len(labels)) mean probability over each label's classes."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(
            f"expected (n, {NUM_IMAGENET_CLASSES}) ImageNet probabilities, got shape {probabilities.shape}: "
            "label decisions need an ImageNet-1k model"
        )
    return np.stack([probabilities[:, list(indices_of(label))].mean(axis=1) for label in labels], axis=1)


def decide(logits: np.ndarray, labels: Sequence[str] | None = None) -> np.ndarray:
    """Label decisions (an array of label strings) from (n, 1000) ImageNet logits.

    Args:
      logits: raw model outputs over the 1000 ImageNet classes.
      labels: the choices (default: the 16 sorted categories); Brain-Score passes the sorted set of the
        benchmark's true labels.
    """
    labels = tuple(categories() if labels is None else labels)
    if not labels:
        raise ValueError("labels must not be empty")
    aggregated = label_probabilities(softmax(logits), labels)
    return np.asarray(labels, dtype=object)[np.argmax(aggregated, axis=1)].astype(str)


def imagenet_top1(logits: np.ndarray) -> np.ndarray:
    """1000-way argmax (Brain-Score's ``choice_labels == 'imagenet'``)."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(f"expected (n, {NUM_IMAGENET_CLASSES}) logits, got shape {logits.shape}")
    return np.argmax(logits, axis=1)
