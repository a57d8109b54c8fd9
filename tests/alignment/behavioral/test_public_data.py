"""The public-data benchmarks end to end on small generated data sets in the real formats: BrainIO files
(netCDF assembly, stimulus CSV, image ZIP) served over local HTTP and verified by sha1, Rajalingham2018 i2n,
Baker2022, ImageNet top-1 and ImageNet-C, all through `alignjax align behavior`, each score checked against
a computation from the model's own outputs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import jax
import numpy as np
import polars as pl
import pytest
import xarray
from PIL import Image

from alignjax.alignment.behavioral import (
    baker2022,
    brainio_files,
    engineering,
    imagenet16,
    rajalingham2018,
    scores,
)
from alignjax.cli import main
from alignjax.data.imagenet import imagenet_class_to_index
from alignjax.data.preprocessing import brainscore_images

SIZE = 32
OBJECTS = ("bear", "car", "dog", "face")
ANIMALS = ("bear", "bunny", "cat", "elephant", "frog", "lizard", "tiger", "turtle", "wolf")


def _image(rng: np.random.Generator, tone: int) -> Image.Image:
    pixels = np.clip(rng.normal(tone, 40, size=(24, 24, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _brainio(
    www: Path, data: brainio_files.BrainioData, stimuli: pl.DataFrame, images: dict, assembly
) -> brainio_files.BrainioData:
    """Writes the three BrainIO files under ``www`` and returns their names with the real sha1s."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, image in images.items():
            png = io.BytesIO()
            image.save(png, format="PNG")
            archive.writestr(name, png.getvalue())
    (www / data.stimuli_zip.name).write_bytes(buffer.getvalue())
    stimuli.write_csv(www / data.stimuli_csv.name)
    assembly.to_netcdf(www / data.assembly.name, engine="h5netcdf")

    def sha1(name):
        return hashlib.sha1((www / name).read_bytes()).hexdigest()

    return brainio_files.BrainioData(
        *(
            brainio_files.BrainioFile(f.name, sha1(f.name))
            for f in (data.assembly, data.stimuli_csv, data.stimuli_zip)
        )
    )


def _rajalingham_files(www: Path, rng: np.random.Generator) -> brainio_files.BrainioData:
    ids, labels, images = [], [], {}
    for k, obj in enumerate(OBJECTS):
        for i in range(6):
            ids.append(f"{obj}{i:02d}")
            labels.append(obj)
            images[f"{obj}{i:02d}.png"] = _image(rng, 40 + 50 * k)
    stimuli = pl.DataFrame({"image_id": ids, "image_label": labels, "filename": [f"{i}.png" for i in ids]})
    image = rng.integers(0, len(ids), 2000)
    sample = np.array(labels)[image]
    dist = np.array([rng.choice([o for o in OBJECTS if o != s]) for s in sample])
    difficulty = rng.uniform(0.4, 0.99, len(ids))  # image-level structure the two halves share
    choice = np.where(rng.uniform(size=len(image)) < difficulty[image], sample, dist)
    assembly = xarray.DataArray(choice, dims=["presentation"], coords={
        "image_id": ("presentation", np.array(ids)[image]), "sample_obj": ("presentation", sample),
        "dist_obj": ("presentation", dist), "truth": ("presentation", sample)})  # fmt: skip
    return _brainio(www, brainio_files.PUBLIC_DATA[rajalingham2018.NAME], stimuli, images, assembly)


def _baker_files(www: Path, rng: np.random.Generator) -> brainio_files.BrainioData:
    rows, images = [], {}
    for k, animal in enumerate(ANIMALS):
        for image_type in ("w", "f", "o"):
            for i in range(2):
                sid = f"{image_type}{animal}{i}"
                rows.append((sid, animal, image_type, "normal", f"{sid}.png"))
                images[f"{sid}.png"] = _image(rng, 20 + 25 * k)
    stimuli = pl.DataFrame(
        rows, schema=["stimulus_id", "animal", "image_type", "orientation", "filename"], orient="row"
    )
    trial_ids = [sid for _ in range(6) for sid, *_ in rows]
    subjects = [s for s in range(1, 7) for _ in rows]
    skill = {"w": 0.9, "f": 0.6, "o": 0.7}
    correct = [int(rng.uniform() < skill[sid[0]]) for sid in trial_ids]
    assembly = xarray.DataArray(np.array(correct), dims=["presentation"], coords={
        "stimulus_id": ("presentation", np.array(trial_ids)), "subject": ("presentation", np.array(subjects)),
        "orientation": ("presentation", np.array(["normal"] * len(trial_ids)))})  # fmt: skip
    return _brainio(www, brainio_files.PUBLIC_DATA["Baker2022_normal_distortion"], stimuli, images, assembly)


def test_brainio_download_verifies_sha1(server, tmp_path, rng):
    www, url = server
    data = _rajalingham_files(www, rng)
    folder = brainio_files.fetch_brainio(rajalingham2018.NAME, tmp_path / "r", base_url=url, data=data)
    stimuli, trials = rajalingham2018.load(folder)
    assert (
        stimuli.height == 24
        and trials.height == 2000
        and trials.columns == list(rajalingham2018.TRIAL_COLUMNS)
    )
    assert all(Path(p).is_file() for p in stimuli["path"].to_list())
    bad = brainio_files.BrainioData(
        data.assembly, data.stimuli_csv, brainio_files.BrainioFile(data.stimuli_zip.name, "0" * 40)
    )
    with pytest.raises(brainio_files.ChecksumError, match="file rejected"):
        brainio_files.fetch_brainio(rajalingham2018.NAME, tmp_path / "s", base_url=url, data=bad)
    assert not (tmp_path / "s" / data.stimuli_zip.name).exists()
    with pytest.raises(ValueError, match="unknown BrainIO data set"):
        brainio_files.fetch_brainio("Nope2020", tmp_path / "t")


def test_brainio_files_already_in_brainscores_cache_are_copied(server, tmp_path, rng, monkeypatch):
    www, _ = server
    data = _rajalingham_files(www, rng)
    home = tmp_path / "brainio_home"  # brainio's layout: <BRAINIO_HOME>/<file stem>/<file>
    for file in (data.assembly, data.stimuli_csv, data.stimuli_zip):
        (home / Path(file.name).stem).mkdir(parents=True, exist_ok=True)
        (home / Path(file.name).stem / file.name).write_bytes((www / file.name).read_bytes())
    monkeypatch.setenv("BRAINIO_HOME", str(home))
    folder = brainio_files.fetch_brainio(rajalingham2018.NAME, tmp_path / "r", base_url=(tmp_path / "nowhere").as_uri(),
                                         data=data)
    stimuli, trials = rajalingham2018.load(folder)
    assert stimuli.height == 24 and trials.height == 2000


def _imagenet_trees(root: Path, rng: np.random.Generator) -> tuple[list[Path], np.ndarray, list[Path]]:
    wnids = sorted(imagenet_class_to_index())[:1000:400]  # three real wnids
    val, labels, corrupted = [], [], []
    for k, wnid in enumerate(wnids):
        for i in range(2):
            path = root / "val" / wnid / f"ILSVRC2012_val_{k}{i}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            _image(rng, 60 + 60 * k).save(path)
            val.append(path)
            labels.append(imagenet_class_to_index()[wnid])
            for severity in engineering.SEVERITIES:
                c_path = root / "imagenet-c" / "gaussian_noise" / str(severity) / wnid / path.name
                c_path.parent.mkdir(parents=True, exist_ok=True)
                _image(rng, 30 * severity).save(c_path)
    corrupted = sorted((root / "imagenet-c").glob("*/*/*/*.JPEG"))
    return val, np.array(labels), corrupted


def test_public_benchmarks_through_the_cli(server, tiny_model, tmp_path, rng):
    module, variables, weights = tiny_model
    www, url = server
    raj = brainio_files.fetch_brainio(
        rajalingham2018.NAME, tmp_path / "raj", base_url=url, data=_rajalingham_files(www, rng)
    )
    baker_data = _baker_files(www, rng)
    brainio_files.fetch_brainio(
        "Baker2022_normal_distortion",
        tmp_path / "baker" / "Baker2022_normal_distortion",
        base_url=url,
        data=baker_data,
    )
    val, labels, corrupted = _imagenet_trees(tmp_path, rng)
    out = tmp_path / "run"
    argv = ["align", "behavior", "--arch", "small_cnn", "--weights", str(weights), "--num-classes", "1000",
            "--image-size", str(SIZE), "--rajalingham", str(raj), "--baker", str(tmp_path / "baker"),
            "--imagenet-val", str(tmp_path / "val"), "--imagenet-c", str(tmp_path / "imagenet-c"),
            "--imagenet-c-sampling", "1", "--batch-size", "16", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    table = scores.read(out / "scores.parquet").filter(pl.col("subset").is_null())
    value = dict(zip(table["benchmark"], table["value"], strict=True))
    apply = jax.jit(module.apply)

    def logits(paths, degrees=None):
        return np.asarray(apply(variables, brainscore_images(paths, SIZE, source_degrees=degrees)))

    # ImageNet and ImageNet-C: 1000-way argmax of the model's logits
    assert value["ImageNet-top1"] == pytest.approx(np.mean(logits(val).argmax(1) == labels))
    corrupted_labels = np.array([imagenet_class_to_index()[p.parent.name] for p in corrupted])
    noise = np.mean(logits(corrupted).argmax(1) == corrupted_labels)
    assert value["ImageNet-C-noise-top1"] == pytest.approx(noise) and value[
        "ImageNet-C-top1"
    ] == pytest.approx(noise)
    # Rajalingham2018: the readout on the head's input (relu of fc1, read with capture_intermediates)
    stimuli, trials = rajalingham2018.load(raj)
    images = brainscore_images(stimuli["path"].to_list(), SIZE)
    _, state = module.apply(variables, images, capture_intermediates=True)
    features = np.maximum(np.asarray(state["intermediates"]["fc1"]["__call__"][0]), 0)
    ids = stimuli["stimulus_id"].to_list()
    expected = rajalingham2018.score(features, stimuli["image_label"].to_list(), features, ids, trials)
    row = table.filter(pl.col("benchmark") == "Rajalingham2018public-i2n").row(0, named=True)
    assert row["value"] == pytest.approx(expected.value, abs=1e-6) and np.isfinite(row["value"])
    assert row["ceiling"] == pytest.approx(expected.ceiling.mean(), abs=1e-12) and row["ceiling"] > 0.3
    # Baker2022: 9-way decisions on the stimuli placed at 8.8 degrees
    b_stimuli, b_trials = baker2022.load(
        tmp_path / "baker" / "Baker2022_normal_distortion", "Baker2022_normal_distortion"
    )
    decisions = b_stimuli.with_columns(
        pl.Series(
            "response",
            imagenet16.decide(logits(b_stimuli["path"].to_list(), baker2022.VISUAL_DEGREES), ANIMALS),
        )
    )
    for benchmark, (_, image_types) in baker2022.BENCHMARKS.items():
        if benchmark == "inverted":
            assert f"Baker2022{benchmark}-accuracy_delta" not in value
            continue
        result = baker2022.score(decisions, b_trials, image_types)
        assert value[f"Baker2022{benchmark}-accuracy_delta"] == pytest.approx(result.ceiled, abs=1e-12)
