"""Brain-Score's splits equal scikit-learn's (the reference Brain-Score calls) index for index."""

import numpy as np
import pytest
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from alignjax.alignment.neural.splits import SplitConfig, brainscore_splits, split_sizes


@pytest.mark.parametrize("n_samples, config", [
    (2560, SplitConfig()),
    (135, SplitConfig()),
    (20, SplitConfig(train_size=0.5)),
    (7, SplitConfig(n_splits=4, train_size=0.5, random_state=3)),
    (50, SplitConfig(n_splits=3, train_size=0.6, test_size=0.3, random_state=0)),
])
def test_shuffle_splits_equal_sklearn(n_samples, config):
    ours = brainscore_splits(n_samples, None, config)
    reference = ShuffleSplit(n_splits=config.n_splits, train_size=config.train_size, test_size=config.test_size,
                             random_state=config.random_state).split(np.zeros(n_samples))
    for (train, test), (ref_train, ref_test) in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)


@pytest.mark.parametrize("labels", [
    np.repeat([f"object{i}" for i in range(64)], 40),           # MajajHong-like: 64 objects x 40 images
    np.repeat(["noise", "texture"], [68, 67]),                  # FreemanZiemba public: uneven classes
    np.random.default_rng(0).choice(["a", "b", "c", "d", "e"], size=97),  # ragged, ties in remainders
])
def test_stratified_splits_equal_sklearn(labels):
    config = SplitConfig()
    ours = brainscore_splits(len(labels), labels, config)
    reference = StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None,
                                       random_state=1).split(np.zeros(len(labels)), labels)
    for (train, test), (ref_train, ref_test) in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)
        assert not set(train) & set(test)


def test_split_errors_are_clear():
    with pytest.raises(ValueError, match="fewer than 2 members"):
        brainscore_splits(5, ["a", "a", "b", "b", "c"], SplitConfig())
    with pytest.raises(ValueError, match="3 stratification labels for 4"):
        brainscore_splits(4, ["a", "a", "b"], SplitConfig())
    with pytest.raises(ValueError, match="fraction"):
        split_sizes(10, 1.5, None)
