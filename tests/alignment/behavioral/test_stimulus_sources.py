"""Where Geirhos stimuli come from: the three folder layouts, and the verified downloader of the
model-vs-human release, served by a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.alignment.behavioral import geirhos2021, modelvshuman_release
from alignjax.data import human_trials

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "geirhos"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), 100, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _release_names(dataset: str) -> list[str]:
    """Archive member names of a dataset in the model-vs-human release layout, from the human trials."""
    trials = human_trials.load_human_trials(dataset).unique("stimulus_id").sort("stimulus_id")
    if dataset in geirhos2021.TEXTURE_SHAPE_FOLDERS:
        return [
            f"{dataset}/{c}/{s}.png" for c, s in zip(trials["category"], trials["stimulus_id"], strict=True)
        ]
    return [f"{dataset}/dnn/session-1/{i:04d}_xx_dnn_{s}.png" for i, s in enumerate(trials["stimulus_id"], 1)]


def _tar(path: Path, names: list[str], extra: dict[str, bytes] | None = None) -> str:
    data = _png()
    with tarfile.open(path, "w:gz") as handle:
        for name, content in [*((n, data) for n in names), *(extra or {}).items()]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            handle.addfile(info, io.BytesIO(content))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_texture_shape_layouts(tmp_path):
    table = geirhos2021.find_stimuli(FIXTURES, "cue-conflict")
    assert table.schema == geirhos2021.STIMULUS_SCHEMA and table.height == 16
    assert table["stimulus_id"].to_list() == sorted(table["stimulus_id"].to_list())
    assert (table["truth"] == table["shape"]).all() and (table["shape"] != table["texture"]).sum() == 12
    bear = table.filter(pl.col("stimulus_id") == "bear1-bear3").row(0, named=True)
    assert (bear["truth"], bear["texture"], bear["condition"]) == ("bear", "bear", "0")
    edges = geirhos2021.find_stimuli(FIXTURES, "edge")
    assert edges.height == 16 and (edges["shape"] == edges["truth"]).all()
    # the model-vs-human release layout <root>/<dataset>/<class>/ gives the same table
    shutil.copytree(FIXTURES / "edges", tmp_path / "edge")
    assert geirhos2021.find_stimuli(tmp_path, "edge").drop("path").equals(edges.drop("path"))
    # a file the humans never saw is refused, naming it
    (tmp_path / "edge" / "bird" / "bird99.png").write_bytes(_png())
    with pytest.raises(ValueError, match="bird99.png"):
        geirhos2021.find_stimuli(tmp_path, "edge")
    shutil.copytree(FIXTURES / "style-transfer-preprocessed-512", tmp_path / "cue-conflict")
    (tmp_path / "cue-conflict" / "bird" / "oddname.png").write_bytes(_png())
    with pytest.raises(ValueError, match="oddname.png"):
        geirhos2021.find_stimuli(tmp_path, "cue-conflict")
    with pytest.raises(FileNotFoundError, match="no silhouette stimuli"):
        geirhos2021.find_stimuli(tmp_path, "silhouette")


def test_session_layout_and_excluded_conditions(tmp_path):
    names = _release_names("contrast")
    for name in names[::20]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(_png())
    every = geirhos2021.find_stimuli(tmp_path, "contrast", exclude=False)
    kept = geirhos2021.find_stimuli(tmp_path, "contrast")
    assert every.height == len(names[::20]) and set(every["condition"]) > set(kept["condition"])
    assert not set(kept["condition"]) & set(geirhos2021.EXCLUDE_CONDITIONS["contrast"])
    first = every.row(0, named=True)
    assert first["stimulus_id"].startswith(f"{first['condition']}_{first['truth']}_")
    (tmp_path / "contrast" / "dnn" / "session-1" / "0001_xx_dnn_c50_dog_10_n99999999_1.png").write_bytes(
        _png()
    )
    with pytest.raises(ValueError, match="not stimuli the humans saw"):
        geirhos2021.find_stimuli(tmp_path, "contrast")


@pytest.mark.parametrize("dataset", ["edge", "sketch"])
def test_release_download_is_verified_against_the_human_trials(server, tmp_path, dataset):
    www, url = server
    names = _release_names(dataset)
    digest = _tar(www / f"{dataset}.tar.gz", names)
    dest = tmp_path / "stimuli"
    modelvshuman_release.fetch_modelvshuman(dataset, dest, base_url=url, sha256=digest)
    record = json.loads((dest / dataset / modelvshuman_release.VERIFIED).read_text())
    assert record["archive_sha256"] == digest and record["images"] == len(names)
    assert not (dest / f"{dataset}.tar.gz").exists()
    assert geirhos2021.find_stimuli(dest, dataset, exclude=False).height == len(names)


def test_release_download_refuses_bad_archives(server, tmp_path):
    www, url = server
    names = _release_names("edge")
    dest = tmp_path / "stimuli"
    _tar(www / "edge.tar.gz", names)
    with pytest.raises(modelvshuman_release.ChecksumError, match="archive rejected"):
        modelvshuman_release.fetch_modelvshuman("edge", dest, base_url=url, sha256="0" * 64)
    _tar(www / "edge.tar.gz", names[:-1])
    with pytest.raises(ValueError, match="lacks 1 of 160 images"):
        modelvshuman_release.fetch_modelvshuman("edge", dest, base_url=url)
    _tar(www / "edge.tar.gz", names, extra={"../escape.png": _png()})
    with pytest.raises(ValueError, match="not a safe, readable archive"):
        modelvshuman_release.fetch_modelvshuman("edge", dest, base_url=url)
    assert not (tmp_path / "escape.png").exists() and not (dest / "edge").exists()
    assert sorted(p.name for p in dest.iterdir()) == []  # nothing half-written stays behind
    with pytest.raises(FileNotFoundError, match="cannot download"):
        modelvshuman_release.fetch_modelvshuman("stylized", dest, base_url=url)
