"""Small metric pieces against NumPy on generated data: shape bias edge cases, top-1, ImageNet-C
subsampling and aggregation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.alignment.behavioral import engineering, shape_bias
from alignjax.data.imagenet import imagenet_class_to_index


def test_shape_bias_against_numpy(rng):
    classes = np.array(["bear", "cat", "dog", "knife"])
    shape, texture = rng.choice(classes, 300), rng.choice(classes, 300)
    response = np.where(
        rng.uniform(size=300) < 0.5, shape, np.where(rng.uniform(size=300) < 0.6, texture, "cat")
    )
    frame = pl.DataFrame({"shape": shape, "texture": texture, "response": response})
    conflict = shape != texture
    s, t = np.sum(response[conflict] == shape[conflict]), np.sum(response[conflict] == texture[conflict])
    overall = shape_bias.shape_bias(frame)
    assert overall["shape_bias"] == pytest.approx(s / (s + t), abs=1e-15)
    assert overall["shape_match"] == pytest.approx(s / conflict.sum(), abs=1e-15)
    assert overall["conflict_trials"] == conflict.sum()
    # a class with neither shape nor texture decisions has no shape bias
    odd = pl.DataFrame({"shape": ["oven", "oven"], "texture": ["car", "dog"], "response": ["cat", "cat"]})
    assert shape_bias.shape_bias_per_class(odd)["shape_bias"].to_list() == [None]
    with pytest.raises(ValueError, match="no cue-conflict trials"):
        shape_bias.shape_bias(pl.DataFrame({"shape": ["cat"], "texture": ["cat"], "response": ["cat"]}))
    with pytest.raises(ValueError, match="missing"):
        shape_bias.shape_bias(frame.drop("texture"))


def test_top1_and_imagenet_c(tmp_path, rng):
    logits = rng.normal(size=(50, 1000))
    labels = rng.integers(0, 1000, 50)
    labels[:10] = logits[:10].argmax(1)
    value, error = engineering.top1(logits, labels)
    correct = (logits.argmax(1) == labels).astype(float)
    assert (value, error) == (pytest.approx(correct.mean()), pytest.approx(correct.std()))
    wnid = sorted(imagenet_class_to_index())[7]
    for corruption in ("gaussian_noise", "fog"):
        for severity in engineering.SEVERITIES:
            folder = tmp_path / corruption / str(severity) / wnid
            folder.mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (4, 4)).save(folder / f"{i}.JPEG")
    files = engineering.imagenet_c_files(tmp_path, sampling_factor=3)
    assert files.schema == engineering.IMAGENET_C_SCHEMA and files.height == 2 * 5 * 2  # files 0 and 3 of 4
    assert set(files["path"].str.extract(r"/(\d)\.JPEG$").to_list()) == {"0", "3"}
    fake = np.zeros((files.height, 1000))
    fake[np.arange(files.height), np.where(files["category"] == "noise", 7, 1)] = 1.0
    table = engineering.imagenet_c_scores(files, fake)
    result = dict(zip(table["benchmark"], table["value"], strict=True))
    assert result == {"ImageNet-C-noise-top1": 1.0, "ImageNet-C-weather-top1": 0.0, "ImageNet-C-top1": 0.5}
    (tmp_path / "snow" / "1" / wnid).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="snow lacks severity 2"):
        engineering.imagenet_c_files(tmp_path)
