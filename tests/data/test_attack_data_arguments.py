"""``attack_data`` and ``open_dataset`` refuse arguments of the wrong type with a ``TypeError`` that names
the argument (not Python's ``slice indices must be integers`` or ``'<' not supported``), and apply ``n``
to a ``Dataset`` as to a path."""

from __future__ import annotations

import numpy as np
import pytest

from alignjax.data import attack_data, open_dataset
from alignjax.data.arrays import ArrayDataset, check_count


@pytest.fixture
def npz(tmp_path, rng):
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.uniform(size=(6, 8, 8, 1)).astype(np.float32), y=np.arange(6))
    return path


WRONG_TYPES = {
    "n=2.5": ({"n": 2.5}, r"n must be a positive integer, got 2\.5 \(float\)"),
    "n='3'": ({"n": "3"}, r"n must be a positive integer, got '3' \(str\)"),
    "n=True": ({"n": True}, r"n must be a positive integer, got True \(bool\)"),
    "num_classes=10.0": ({"num_classes": 10.0}, r"num_classes must be a positive integer, got 10\.0 \(float\)"),
    "num_threads='2'": ({"num_threads": "2"}, r"num_threads must be a positive integer, got '2' \(str\)"),
    "prefetch=None": ({"prefetch": None}, r"prefetch must be an integer >= 0, got None \(NoneType\)"),
}


@pytest.mark.parametrize(("options", "message"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_count_of_the_wrong_type_is_named(npz, options, message):
    with pytest.raises(TypeError, match=message):
        attack_data(npz, **options)


@pytest.mark.parametrize(("source", "name"), [(5, "int"), (None, "NoneType"), (b"data.npz", "bytes")],
                         ids=["int", "None", "bytes"])
def test_a_source_of_the_wrong_type_is_named(source, name):
    with pytest.raises(TypeError, match=rf"source must be a path, .* or a Dataset .*got {name}$"):
        attack_data(source)
    with pytest.raises(TypeError, match=rf"source must be a path or an hf://datasets/\.\.\. string, got {name}$"):
        open_dataset(source)


def test_open_dataset_names_n_too(npz):
    with pytest.raises(TypeError, match=r"n must be a positive integer, got 2\.5"):
        open_dataset(npz, n=2.5)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        open_dataset(npz, n=0)


def test_counts_of_the_right_type_are_taken(npz):
    assert len(attack_data(npz, n=np.int64(4), num_classes=np.int32(10), prefetch=0).labels) == 4
    with pytest.raises(ValueError, match="n must be a positive integer, got -1"):
        attack_data(npz, n=-1)
    with pytest.raises(ValueError, match="prefetch must be an integer >= 0, got -1"):
        attack_data(npz, prefetch=-1)
    assert check_count("n", np.uint8(3)) == 3


def test_n_applies_to_a_dataset_as_to_a_path(npz):
    with np.load(npz) as saved:
        dataset = ArrayDataset(saved["x"], saved["y"], "six digits")
    data = attack_data(dataset, n=4)
    np.testing.assert_array_equal(data.labels, attack_data(npz, n=4).labels)
    assert len(data.images) == 4 and data.dataset.description == "first 4 of six digits"


def test_path_only_arguments_with_a_dataset_are_refused_not_ignored(npz):
    with np.load(npz) as saved:
        dataset = ArrayDataset(saved["x"], saved["y"], "six digits")
    with pytest.raises(ValueError, match=r"^path-only argument\(s\) given with a Dataset: labels, layout; "):
        attack_data(dataset, labels="labels.csv", layout="nchw")
    with pytest.raises(ValueError, match=r"Dataset: split; "):
        attack_data(dataset, split="train")
    assert len(attack_data(dataset, split="test", format="auto").labels) == 6  # the defaults are fine
