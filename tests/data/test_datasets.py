"""Loaders on small files written in their real formats: CIFAR pickles, npz, image folders, ImageNet
layouts, and hub parquet read through a hand-built offline Hugging Face cache."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.data import arrays, cifar, folders, hub_parquet, imagenet, npz
from alignjax.data.preprocessing import decode_image, to_uint8


def _write_pickle(path, content):
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=2)


def _cifar_rows(rng, n):
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    rows = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # R plane, G plane, B plane
    return images, rows


def test_cifar10_batches(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    expected_train = []
    for index in range(1, 6):
        images, rows = _cifar_rows(rng, 4)
        labels = rng.integers(0, 10, 4).tolist()
        _write_pickle(
            folder / f"data_batch_{index}", {b"batch_label": b"x", b"labels": labels, b"data": rows}
        )
        expected_train.append((images, labels))
    test_images, test_rows = _cifar_rows(rng, 6)
    _write_pickle(folder / "test_batch", {b"labels": [3, 1, 4, 1, 5, 9], b"data": test_rows})
    _write_pickle(
        folder / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)], b"num_vis": 3072}
    )

    test = cifar.load_cifar(tmp_path)  # the parent folder works as well as the batch folder
    np.testing.assert_array_equal(test.x, test_images)
    assert test.x.dtype == np.uint8 and test.x.shape == (6, 32, 32, 3)
    assert test.y.tolist() == [3, 1, 4, 1, 5, 9] and test.classes[9] == "c9"
    image, label = test[2]
    np.testing.assert_array_equal(image, test_images[2])
    assert label == 4
    train = cifar.load_cifar(folder, split="train")
    np.testing.assert_array_equal(train.x, np.concatenate([images for images, _ in expected_train]))
    assert train.y.tolist() == [label for _, labels in expected_train for label in labels]
    first = arrays.first_n(test, 4)
    assert len(first) == 4 and first[3][1] == 1 and "first 4" in first.description


def test_cifar100_fine_and_coarse(tmp_path, rng):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    images, rows = _cifar_rows(rng, 5)
    content = {b"fine_labels": [0, 99, 50, 7, 7], b"coarse_labels": [0, 19, 3, 2, 2], b"data": rows}
    _write_pickle(folder / "test", content)
    meta = {
        b"fine_label_names": [f"f{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"k{i}".encode() for i in range(20)],
    }
    _write_pickle(folder / "meta", meta)
    fine = cifar.load_cifar(folder, name="cifar100")
    coarse = cifar.load_cifar(folder, name="cifar100", label_kind="coarse")
    np.testing.assert_array_equal(fine.x, images)
    assert fine.y.tolist() == [0, 99, 50, 7, 7] and len(fine.classes) == 100
    assert coarse.y.tolist() == [0, 19, 3, 2, 2] and len(coarse.classes) == 20


def test_cifar_refuses_code_and_bad_labels(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _write_pickle(folder / "batches.meta", {b"label_names": [b"a"] * 10})
    _write_pickle(folder / "test_batch", {b"labels": [1], b"data": os.getcwd})  # a global that is not numpy
    with pytest.raises(ValueError, match="refusing to load"):
        cifar.load_cifar(folder)
    _, rows = _cifar_rows(rng, 2)
    _write_pickle(folder / "test_batch", {b"labels": [1, 10], b"data": rows})
    with pytest.raises(ValueError, match="do not fit a model with 10 classes"):
        cifar.load_cifar(folder)
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        cifar.load_cifar(folder)


def test_npz_uint8_and_float(tmp_path, rng):
    x = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "u8.npz", x=x, y=np.arange(5))
    data = npz.load_npz(tmp_path / "u8.npz", num_classes=5)
    np.testing.assert_array_equal(data.x, x)
    assert data.y.dtype == np.int32
    np.savez(tmp_path / "f.npz", x=x / 255.0, y=np.arange(5))
    floats = npz.load_npz(tmp_path / "f.npz")
    assert floats.x.dtype == np.float32


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.full((2, 4, 4, 3), 1.5), np.array([0, 1]), "must lie in"),
        (np.zeros((2, 4, 4)), np.array([0, 1]), "4-D batch"),
        (np.zeros((2, 4, 4, 3)), np.array([0, 1, 2]), "2 images but y has 3"),
        (np.zeros((2, 4, 4, 3)), np.array([0, 12]), "do not fit a model with 10 classes"),
        (np.zeros((2, 4, 4, 3)), np.array([0.5, 1.0]), "must be integers"),
    ],
)
def test_npz_validation(tmp_path, x, y, message):
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    with pytest.raises(ValueError, match=message):
        npz.load_npz(tmp_path / "bad.npz", num_classes=10)


def _jpeg(path, rng, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_image_folder_order_and_labels(tmp_path, rng):
    for name in ["b/2.png", "b/10.PNG", "a/z.jpg", "a/sub/y.jpeg", "c/readme.txt", "c/x.webp"]:
        if name.endswith(".txt"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("not an image")
        else:
            _jpeg(tmp_path / name, rng)
    data = folders.image_folder(tmp_path)
    relative = [path.relative_to(tmp_path).as_posix() for path in data.paths]
    assert relative == ["a/z.jpg", "a/sub/y.jpeg", "b/10.PNG", "b/2.png", "c/x.webp"]
    assert data.labels.tolist() == [0, 0, 1, 1, 2] and data.classes == ("a", "b", "c")
    with pytest.raises(ValueError, match="3 classes but the model has 10"):
        folders.image_folder(tmp_path, num_classes=10)


def _imagenet_tree(root, rng, ids):
    for image_id in ids:
        _jpeg(root / "val" / image_id, rng)


def test_imagenet_folder_layout_uses_sorted_wnid_index(tmp_path, rng):
    wnids = imagenet.imagenet_wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids)
    ids = [
        "n01440764/ILSVRC2012_val_00000293.JPEG",
        "n15075141/ILSVRC2012_val_00000001.JPEG",
        "n02123045/a.JPEG",
    ]
    _imagenet_tree(tmp_path, rng, ids)
    data = imagenet.imagenet_val(tmp_path)
    assert [path.parent.name for path in data.paths] == ["n01440764", "n02123045", "n15075141"]
    assert data.labels.tolist() == [0, wnids.index("n02123045"), 999]
    with pytest.raises(ValueError, match="1000 classes but the model has 10"):
        imagenet.imagenet_val(tmp_path, num_classes=10)


def test_imagenet_robustbench_subset(tmp_path, rng):
    subset = imagenet.robustbench_subset_ids()
    assert len(subset) == 5000 and len(set(subset)) == 5000
    assert subset[0] == "n09468604/ILSVRC2012_val_00015253.JPEG"
    _imagenet_tree(tmp_path, rng, subset[:3])
    data = imagenet.imagenet_val(tmp_path, subset="robustbench", n=3)
    assert [f"{p.parent.name}/{p.name}" for p in data.paths] == list(subset[:3])
    assert data.labels.tolist() == [imagenet.imagenet_class_to_index()[s.split("/")[0]] for s in subset[:3]]
    with pytest.raises(
        FileNotFoundError, match=r"2 of 5 ImageNet images are missing.*ILSVRC2012_val_00004059"
    ):
        imagenet.imagenet_val(tmp_path, subset="robustbench", n=5)
    with pytest.raises(ValueError, match="at most 5000"):
        imagenet.robustbench_imagenet(tmp_path, n=5001)


def test_imagenet_flat_folder_with_labels_csv(tmp_path, rng):
    for name in ["ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000001.JPEG"]:
        _jpeg(tmp_path / "val" / name, rng)
    csv = tmp_path / "LOC_val_solution.csv"
    csv.write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000001,n01751748 111 0 363 270 n01751748 5 1 100 100\n"
        "ILSVRC2012_val_00000002,n09193705 52 55 400 373\n"
    )
    data = imagenet.imagenet_val(tmp_path, labels_csv=csv)
    index = imagenet.imagenet_class_to_index()
    assert [p.name for p in data.paths] == ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"]
    assert data.labels.tolist() == [index["n01751748"], index["n09193705"]]
    flat_subset = imagenet.imagenet_val(tmp_path, subset=["n09193705/ILSVRC2012_val_00000002.JPEG"])
    assert flat_subset.labels.tolist() == [index["n09193705"]]
    with pytest.raises(ValueError, match="flat folder: pass labels_csv"):
        imagenet.imagenet_val(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,wnid\nILSVRC2012_val_00000001.JPEG,n00000000\n")
    with pytest.raises(ValueError, match="neither an integer nor a known wnid"):
        imagenet.imagenet_val(tmp_path, labels_csv=bad)


def test_class_mapping_of_wrong_size_is_refused():
    with pytest.raises(ValueError, match="999 classes but the model has 1000"):
        imagenet.check_class_mapping({f"n{i:08d}": i for i in range(999)}, 1000)


def _png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _parquet(path, rng, n, offset=0):
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    frame = pl.DataFrame(
        {
            "img": [
                {"bytes": _png_bytes(image), "path": f"{offset + i}.png"} for i, image in enumerate(images)
            ],
            "label": list(range(offset, offset + n)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return images


def test_hub_parquet_from_offline_cache(tmp_path, rng):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--someone--tiny-cifar"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit / "plain_text"
    first = _parquet(snapshot / "test-00000-of-00002.parquet", rng, 3)
    second = _parquet(snapshot / "test-00001-of-00002.parquet", rng, 2, offset=3)
    _parquet(snapshot / "train-00000-of-00001.parquet", rng, 4)
    data = hub_parquet.load_hub_parquet(
        "someone/tiny-cifar", split="test", cache_dir=tmp_path / "hub", image_column="img"
    )
    assert len(data) == 5 and data.labels.tolist() == [0, 1, 2, 3, 4]
    assert data.names[4] == "4.png"
    for index, expected in enumerate(np.concatenate([first, second])):
        encoded, _ = data[index]
        np.testing.assert_array_equal(to_uint8(decode_image(encoded)), expected)
    with pytest.raises(ValueError, match="do not fit a model with 4 classes"):
        hub_parquet.load_hub_parquet(
            "someone/tiny-cifar", cache_dir=tmp_path / "hub", image_column="img", num_classes=4
        )
    with pytest.raises(ValueError, match="no column 'image'"):
        hub_parquet.load_hub_parquet("someone/tiny-cifar", cache_dir=tmp_path / "hub")


def test_parquet_rows_without_bytes_are_named(tmp_path):
    frame = pl.DataFrame({"image": [{"bytes": None, "path": "elsewhere.png"}], "label": [0]})
    frame = frame.cast({"image": pl.Struct({"bytes": pl.Binary, "path": pl.String})})
    frame.write_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="elsewhere.png"):
        hub_parquet.read_parquet_images([tmp_path / "x.parquet"])
