"""``open_dataset``: each source kind recognised from what is on disk, hidden entries ignored, flat folders
with a labels CSV, named preprocessing, and the public names of ``alignjax.data``."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import types

import numpy as np
import polars as pl
import pytest
from PIL import Image

import alignjax.data
from alignjax.data import arrays, imagenet, named_preprocessing
from alignjax.data.sources import open_dataset


def _png(path, rng, size=(6, 5)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def _hidden_clutter(folder, rng):
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    _png(folder / ".ipynb_checkpoints" / "copy.png", rng)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _png(folder / "._resource.png", rng)


def test_class_folders_ignore_hidden_entries(tmp_path, rng):
    for name in ["cat/1.png", "cat/.hidden/2.png", "dog/3.png"]:
        _png(tmp_path / name, rng)
    _hidden_clutter(tmp_path, rng)
    _hidden_clutter(tmp_path / "dog", rng)
    data = open_dataset(tmp_path)
    assert data.classes == ("cat", "dog")
    assert [p.relative_to(tmp_path).as_posix() for p in data.paths] == ["cat/1.png", "dog/3.png"]
    assert arrays.labels_of(open_dataset(tmp_path, n=1)).tolist() == [0]


def test_imagenet_wnid_folders_and_the_folder_override(tmp_path, rng):
    wnids = imagenet.imagenet_wnids()
    for wnid in (wnids[5], wnids[998]):
        _png(tmp_path / "val" / wnid / "a.JPEG", rng)
    _hidden_clutter(tmp_path / "val", rng)
    data = open_dataset(tmp_path)
    assert data.labels.tolist() == [5, 998] and len(data.classes) == 1000
    plain = open_dataset(tmp_path / "val", format="folder")
    assert plain.labels.tolist() == [0, 1] and plain.classes == (wnids[5], wnids[998])
    with pytest.raises(ValueError, match="1000 classes but the model has 2 outputs.*--data-format folder"):
        arrays.check_fits_model(data, 2)


def test_imagenet_flat_folder_with_hidden_folder_is_still_flat(tmp_path, rng):
    val = tmp_path / "val"
    _png(val / "ILSVRC2012_val_00000001.JPEG", rng)
    _hidden_clutter(val, rng)
    csv = tmp_path / "labels.csv"
    csv.write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 1 2 3 4\n")
    data = imagenet.imagenet_val(tmp_path, labels_csv=csv)
    assert data.labels.tolist() == [imagenet.imagenet_class_to_index()["n01751748"]]
    same = open_dataset(val, labels=csv)  # the generic flat-folder reader understands wnids too
    assert same.labels.tolist() == data.labels.tolist() and len(same.classes) == 1000


def test_flat_folder_with_integer_labels(tmp_path, rng):
    for name in ["b.png", "a.png", "c.png"]:
        _png(tmp_path / "images" / name, rng)
    _hidden_clutter(tmp_path / "images", rng)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\na.png,3\nb.png,0\nc.png,7\nnot-here.png,1\n")
    data = open_dataset(tmp_path / "images", labels=csv)
    assert [p.name for p in data.paths] == ["a.png", "b.png", "c.png"]
    assert data.labels.tolist() == [3, 0, 7] and data.classes is None
    csv.write_text("file,label\na.png,3\nb.png,0\n")
    with pytest.raises(ValueError, match=r"1 of 3 image\(s\) .* have no label.*c\.png"):
        open_dataset(tmp_path / "images", labels=csv)
    csv.write_text("file,label\na.png,cat\nb.png,0\nc.png,1\n")
    with pytest.raises(ValueError, match="neither integers nor ImageNet wnids"):
        open_dataset(tmp_path / "images", labels=csv)
    with pytest.raises(ValueError, match="no class subfolders.*--labels"):
        open_dataset(tmp_path / "images")


def _cifar10(folder, rng, n):
    folder.mkdir(parents=True)
    rows = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    for name, content in [
        ("test_batch", {b"labels": list(range(n)), b"data": rows}),
        ("batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]}),
    ]:
        with open(folder / name, "wb") as handle:
            pickle.dump(content, handle, protocol=2)


def test_cifar_parquet_and_npz_are_recognised(tmp_path, rng):
    _cifar10(tmp_path / "c" / "cifar-10-batches-py", rng, 4)
    cifar = open_dataset(tmp_path / "c", n=3)
    assert len(cifar) == 3 and cifar.x.shape == (3, 32, 32, 3) and cifar.classes[0] == "c0"
    assert len(open_dataset(tmp_path / "c" / "cifar-10-batches-py")) == 4
    with pytest.raises(ValueError, match="splits 'train' and 'test'"):
        open_dataset(tmp_path / "c", split="validation")

    def table(labels):
        import io

        images = []
        for _ in labels:
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(buffer, format="PNG")
            images.append({"bytes": buffer.getvalue(), "path": None})
        return pl.DataFrame({"img": images, "fine_label": labels})

    hub = tmp_path / "hub" / "plain_text"
    hub.mkdir(parents=True)
    table([1, 2]).write_parquet(hub / "test-00000-of-00001.parquet")
    table([3]).write_parquet(hub / "train-00000-of-00001.parquet")
    assert open_dataset(tmp_path / "hub").labels.tolist() == [1, 2]
    assert open_dataset(tmp_path / "hub", split="train").labels.tolist() == [3]
    assert open_dataset(hub / "train-00000-of-00001.parquet").labels.tolist() == [3]
    with pytest.raises(FileNotFoundError, match="no parquet files of split 'val'"):
        open_dataset(tmp_path / "hub", split="val")

    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2, 2, 3), np.uint8), y=[0, 1, 2])
    assert open_dataset(tmp_path / "d.npz", n=2).x.shape == (2, 2, 2, 3)
    with pytest.raises(ValueError, match="asked for the first 4 points"):
        open_dataset(tmp_path / "d.npz", n=4)
    with pytest.raises(ValueError, match="subset 'robustbench' applies to ImageNet"):
        open_dataset(tmp_path / "d.npz", subset="robustbench")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_dataset(tmp_path / "missing")


def test_named_preprocessing():
    from alignjax.models.registry import Preprocessing

    image = Image.new("RGB", (300, 200))
    sizes = {
        name: named_preprocessing.named_transform(name)(image).size
        for name in ("none", "Res256Crop224", "BicubicRes256Crop224", "Crop288", "Res224", "brainscore")
    }
    assert sizes == {
        "none": (300, 200), "Res256Crop224": (224, 224), "BicubicRes256Crop224": (224, 224),
        "Crop288": (288, 288), "Res224": (224, 224), "brainscore": (224, 224),
    }
    spec = types.SimpleNamespace(preprocessing=Preprocessing(resize=232, crop=200), input_shape=(200, 200, 3))
    assert named_preprocessing.named_transform("model", spec=spec)(image).size == (200, 200)
    assert named_preprocessing.named_transform("brainscore", spec=spec)(image).size == (200, 200)
    geirhos = named_preprocessing.named_transform("brainscore-geirhos")(Image.new("RGB", (224, 224), "white"))
    assert geirhos.getpixel((0, 0)) == (128, 128, 128) and geirhos.getpixel((112, 112)) == (255, 255, 255)
    with pytest.raises(ValueError, match="needs a registry model"):
        named_preprocessing.named_transform("model")
    with pytest.raises(ValueError, match="unknown preprocessing 'Res999'; known: none, Res256Crop224"):
        named_preprocessing.named_transform("Res999")


def test_public_names_are_the_functions_not_modules():
    for module in pkgutil.iter_modules(alignjax.data.__path__):
        importlib.import_module(f"alignjax.data.{module.name}")  # submodule imports bind module names
    for name in alignjax.data.__all__:
        assert not isinstance(getattr(alignjax.data, name), types.ModuleType), name
    from alignjax.data import attack_data, host_batches, image_folder

    assert callable(image_folder) and image_folder.__module__ == "alignjax.data.folders"
    assert callable(host_batches) and callable(attack_data)


def test_hub_dataset_from_the_offline_cache(tmp_path, rng, monkeypatch):
    import io

    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "datasets--someone--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(buffer, format="PNG")
    snapshot = repo / "snapshots" / commit / "plain_text"
    snapshot.mkdir(parents=True)
    pl.DataFrame({"img": [{"bytes": buffer.getvalue(), "path": "0.png"}], "label": [7]}).write_parquet(
        snapshot / "test-00000-of-00001.parquet"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    data = open_dataset("hf://datasets/someone/tiny")
    assert data.labels.tolist() == [7] and data.names == ("0.png",)
    assert "hf://datasets/someone/tiny@main test" in data.description
