"""The stimulus downloader against ../shared/data/texture-vs-shape as the source: every hash verified,
resumable after an interruption, tampered files rejected, missing files reported."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import numpy as np
import polars as pl
import pytest

from alignjax.data import stimuli


@pytest.fixture
def source(shared_data):
    return shared_data / "texture-vs-shape"


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_manifest_format(source):
    manifest = stimuli.read_manifest(source / stimuli.MANIFEST_NAME)
    assert manifest.schema == stimuli.MANIFEST_SCHEMA
    counts = manifest.group_by(pl.col("path").str.split("/").list.get(1).alias("folder")).len()
    assert dict(counts.iter_rows()) == {
        "style-transfer-preprocessed-512": 1280,
        "edges": 160,
        "filled-silhouettes": 160,
    }


def test_manifest_paths_cannot_escape_dest(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"path\tsha256\tbytes\nstimuli/edges/../../../etc/x.png\t{'0' * 64}\t1\n")
    with pytest.raises(ValueError, match="unexpected manifest path"):
        stimuli.read_manifest(bad)


def test_fetch_edges_verifies_every_file(source, tmp_path):
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=source, progress=False)
    assert len(report.downloaded) == 160 and not report.skipped and not report.missing
    fetched = _all_files(tmp_path)
    assert fetched == sorted(p[len("stimuli/") :] for p in report.downloaded)
    manifest = stimuli.read_manifest(source / stimuli.MANIFEST_NAME).filter(
        pl.col("path").str.starts_with("stimuli/edges/")
    )
    for path, digest in manifest.select("path", "sha256").iter_rows():
        assert stimuli.sha256_of(tmp_path / path[len("stimuli/") :]) == digest
    again = stimuli.fetch_stimuli("edge", tmp_path, base_url=source, progress=False)
    assert len(again.skipped) == 160 and not again.downloaded


def test_file_url_and_class_filter(source, tmp_path):
    report = stimuli.fetch_stimuli(
        "silhouette", tmp_path, base_url=source.as_uri(), classes=["cat", "dog"], progress=True
    )
    assert len(report.downloaded) == 20
    assert {p.split("/")[1] for p in _all_files(tmp_path)} == {"cat", "dog"}


def test_cue_conflict_subset_and_missing_files(source, tmp_path):
    with pytest.raises(stimuli.MissingStimuliError, match="1120 of 1280 cue-conflict files are missing"):
        stimuli.fetch_stimuli("cue-conflict", tmp_path / "a", base_url=source, progress=False)
    present = [
        p.relative_to(source / "stimuli/style-transfer-preprocessed-512").as_posix()
        for p in sorted((source / "stimuli/style-transfer-preprocessed-512").glob("*/*.png"))
    ]
    assert len(present) == 160
    report = stimuli.fetch_stimuli(
        "cue-conflict", tmp_path / "b", base_url=source, subset=present, progress=False
    )
    assert len(report.downloaded) == 160
    partial = stimuli.fetch_stimuli(
        "cue-conflict", tmp_path / "c", base_url=source, classes=["bird"], allow_missing=True, progress=False
    )
    assert len(partial.downloaded) == 10 and len(partial.missing) == 70
    table = stimuli.stimulus_table(tmp_path / "b", "cue-conflict")
    assert table.height == 160 and (table["shape"] == table["category"]).all()
    dataset = stimuli.stimulus_dataset(tmp_path / "b", "cue-conflict", exclude_same=True)
    assert 0 < len(dataset) < 160 and set(dataset.labels.tolist()) <= set(range(16))


class _Interrupt(Exception):
    pass


def test_interrupted_download_resumes(source, tmp_path, monkeypatch):
    real_open = stimuli._open_source
    calls = {"n": 0}

    class _BreaksMidFile:
        def __init__(self, handle):
            self.handle, self.reads = handle, 0

        def read(self, size):
            self.reads += 1
            if self.reads > 1:
                raise _Interrupt("connection lost")
            return self.handle.read(max(1, size // 1024))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def flaky_open(base, relative):
        calls["n"] += 1
        handle = real_open(base, relative)
        return _BreaksMidFile(handle) if calls["n"] == 6 else handle

    monkeypatch.setattr(stimuli, "_open_source", flaky_open)
    with pytest.raises(_Interrupt):
        stimuli.fetch_stimuli("edges", tmp_path, base_url=source, classes=["airplane"], progress=False)
    parts = [p for p in _all_files(tmp_path) if p.endswith(".part")]
    finished = [p for p in _all_files(tmp_path) if not p.endswith(".part")]
    assert len(parts) == 1 and len(finished) == 5  # the broken file never appears under its final name
    monkeypatch.setattr(stimuli, "_open_source", real_open)
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=source, classes=["airplane"], progress=False)
    assert len(report.skipped) == 5 and len(report.downloaded) == 5
    assert len(_all_files(tmp_path)) == 10 and not any(p.endswith(".part") for p in _all_files(tmp_path))


def _copy_class(source, target, folder="edges", name="bear"):
    manifest = stimuli.read_manifest(source / stimuli.MANIFEST_NAME)
    shutil.copytree(source / "stimuli" / folder / name, target / "stimuli" / folder / name)
    manifest.write_csv(target / stimuli.MANIFEST_NAME, separator="\t")
    return sorted((target / "stimuli" / folder / name).glob("*.png"))


def test_tampered_source_file_is_rejected(source, tmp_path):
    files = _copy_class(source, tmp_path / "mirror")
    tampered = files[3]
    data = bytearray(tampered.read_bytes())
    data[100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with pytest.raises(stimuli.ChecksumError, match=f"edges/bear/{tampered.name}") as info:
        stimuli.fetch_stimuli("edges", dest, base_url=tmp_path / "mirror", classes=["bear"], progress=False)
    assert info.value.path.endswith(tampered.name)
    kept = _all_files(dest)
    assert f"edges/bear/{tampered.name}" not in kept and not any(p.endswith(".part") for p in kept)


def test_tampered_local_copy_is_fetched_again(source, tmp_path):
    stimuli.fetch_stimuli("edges", tmp_path, base_url=source, classes=["clock"], progress=False)
    victim = sorted((tmp_path / "edges" / "clock").glob("*.png"))[0]
    victim.write_bytes(b"tampered")
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=source, classes=["clock"], progress=False)
    assert report.downloaded == (f"stimuli/edges/clock/{victim.name}",) and len(report.skipped) == 9
    assert victim.read_bytes() == (source / "stimuli/edges/clock" / victim.name).read_bytes()


def test_http_source(source, tmp_path):
    mirror = tmp_path / "mirror"
    _copy_class(source, mirror, folder="filled-silhouettes", name="knife")
    handler = functools.partial(_QuietHandler, directory=str(mirror))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            report = stimuli.fetch_stimuli(
                "filled-silhouettes",
                tmp_path / "dest",
                base_url=base,
                manifest=mirror / stimuli.MANIFEST_NAME,
                classes=["knife"],
                progress=False,
            )
            assert len(report.downloaded) == 10
            with pytest.raises(stimuli.MissingStimuliError, match="10 of 10"):
                stimuli.fetch_stimuli(
                    "filled-silhouettes",
                    tmp_path / "dest2",
                    base_url=base,
                    manifest=mirror / stimuli.MANIFEST_NAME,
                    classes=["oven"],
                    progress=False,
                )
        finally:
            server.shutdown()
            thread.join()
    with pytest.raises(ValueError, match="pass manifest="):
        stimuli.fetch_stimuli("edges", tmp_path, base_url="https://example.invalid/x", progress=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def test_cue_conflict_names_parse(source):
    manifest = stimuli.read_manifest(source / stimuli.MANIFEST_NAME)
    paths = manifest.filter(pl.col("path").str.contains("style-transfer"))["path"].to_list()
    for path in paths:
        shape, texture = stimuli.parse_cue_conflict_name(path)
        assert shape == path.split("/")[2] and texture in stimuli.CATEGORIES
    assert stimuli.parse_cue_conflict_name("bird3-bird2.png") == ("bird", "bird")
    assert stimuli.parse_cue_conflict_name("cat1-elephant10.png") == ("cat", "elephant")
    with pytest.raises(ValueError, match="not a cue-conflict file name"):
        stimuli.parse_cue_conflict_name("airplane1.png")
    same = np.mean([a == b for a, b in map(stimuli.parse_cue_conflict_name, paths)])
    assert 0 < same < 0.2
