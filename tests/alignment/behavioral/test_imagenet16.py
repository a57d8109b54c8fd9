"""16-class decisions: the packaged class lists and the mean-probability mapping, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from alignjax.alignment.behavioral import imagenet16
from alignjax.data.imagenet import imagenet_wnids


def test_class_lists_are_the_model_vs_human_ones():
    categories = imagenet16.categories()
    assert categories == tuple(sorted(categories)) and len(categories) == 16
    sizes = {name: len(imagenet16.indices_of(name)) for name in categories}
    # counts of model-vs-human's HumanCategories.<category>_indices (helper/human_categories.py @ 79ed7cd)
    assert sizes == {
        "airplane": 1, "bear": 4, "bicycle": 2, "bird": 49, "boat": 5, "bottle": 7, "car": 3, "cat": 6,
        "chair": 4, "clock": 3, "dog": 109, "elephant": 2, "keyboard": 2, "knife": 1, "oven": 1, "truck": 8,
    }  # fmt: skip
    assert imagenet16.indices_of("airplane") == (404,) and imagenet16.indices_of("oven") == (766,)
    assert imagenet16.indices_of("cat") == (281, 282, 283, 284, 285, 286)
    every = [index for name in categories for index in imagenet16.indices_of(name)]
    assert len(every) == len(set(every)) == 207  # disjoint
    # the WordNet ids stored beside the indices name the same ImageNet classes
    wnids = imagenet_wnids()
    data = imagenet16._data()
    for table in (data["categories"], data["extra_labels"]):
        for entry in table.values():
            assert [wnids[i] for i in entry["indices"]] == entry["wnids"]
    assert imagenet16.indices_of("Sewing Machine") == (786,)  # Brain-Score's multi-word handling
    with pytest.raises(ValueError, match="no ImageNet classes for label 'unicorn'"):
        imagenet16.indices_of("unicorn")


def test_decisions_are_the_argmax_of_mean_probabilities(rng):
    logits = rng.normal(scale=4.0, size=(64, 1000)).astype(np.float32)
    exp = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    labels = imagenet16.categories()
    expected_scores = np.stack(
        [probabilities[:, list(imagenet16.indices_of(c))].mean(axis=1) for c in labels], 1
    )
    np.testing.assert_allclose(
        imagenet16.label_probabilities(imagenet16.softmax(logits), labels), expected_scores, rtol=1e-12
    )
    decisions = imagenet16.decide(logits)
    assert decisions.tolist() == [labels[i] for i in expected_scores.argmax(axis=1)]
    assert len(set(decisions.tolist())) > 4
    baker = ("bear", "bunny", "cat", "elephant", "frog", "lizard", "tiger", "turtle", "wolf")
    assert set(imagenet16.decide(logits, baker)) <= set(baker)
    np.testing.assert_array_equal(imagenet16.imagenet_top1(logits), logits.argmax(axis=1))
    # huge logits do not overflow the softmax
    assert imagenet16.decide(logits * 1e4).shape == (64,)
    with pytest.raises(ValueError, match="ImageNet-1k model"):
        imagenet16.decide(logits[:, :10])
