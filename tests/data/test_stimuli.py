"""The stimulus downloader with the manifest shipped in alignjax and a 46-file slice of the real set
(tests/fixtures/texture-vs-shape) as the source: as a local folder, as file:// and over http on
127.0.0.1 laid out like raw.githubusercontent.com. Every hash verified, interrupted and partial
downloads resumed, tampered files rejected, missing files reported."""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from alignjax.data import stimuli
from tests.local_http import LocalServer, send_bytes

SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "texture-vs-shape"
CUE_CONFLICT = "stimuli/style-transfer-preprocessed-512"
PRESENT_CUE_CONFLICT = ["bird/bird1-airplane2.png", "bird/bird1-bear1.png", "bird/bird1-bicycle2.png",
                        "cat/cat1-airplane1.png", "cat/cat1-bird1.png", "cat/cat1-cat3.png"]


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def manifest() -> pl.DataFrame:
    return stimuli.read_manifest(stimuli.BUNDLED_MANIFEST)


def test_bundled_manifest_covers_the_full_sets_and_the_fixture(manifest):
    assert manifest.schema == stimuli.MANIFEST_SCHEMA
    counts = manifest.group_by(pl.col("path").str.split("/").list.get(1).alias("folder")).len()
    assert dict(counts.iter_rows()) == {
        "style-transfer-preprocessed-512": 1280,
        "edges": 160,
        "filled-silhouettes": 160,
    }
    digests = dict(manifest.select("path", "sha256").iter_rows())
    fixture = [p for p in _all_files(SOURCE) if p.startswith("stimuli/")]
    assert len(fixture) == 46
    for path in fixture:
        assert stimuli.sha256_of(SOURCE / path) == digests[path], path
    for name in ("LICENSE", "README.md"):  # licence and provenance travel with the manifest
        assert (stimuli.BUNDLED_MANIFEST.parent / name).is_file()
    assert stimuli.SOURCE_COMMIT in (stimuli.BUNDLED_MANIFEST.parent / "README.md").read_text()


def test_manifest_paths_cannot_escape_dest(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"path\tsha256\tbytes\nstimuli/edges/../../../etc/x.png\t{'0' * 64}\t1\n")
    with pytest.raises(ValueError, match="unexpected manifest path"):
        stimuli.read_manifest(bad)


def test_fetch_from_a_local_folder_verifies_every_file(tmp_path, manifest):
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=SOURCE, classes=["bear", "clock"], progress=False)
    assert len(report.downloaded) == 20 and not report.skipped and not report.missing
    assert _all_files(tmp_path) == sorted(p[len("stimuli/"):] for p in report.downloaded)
    expected = manifest.filter(pl.col("path").str.contains("^stimuli/edges/(bear|clock)/"))
    for path, digest in expected.select("path", "sha256").iter_rows():
        assert stimuli.sha256_of(tmp_path / path[len("stimuli/"):]) == digest
    again = stimuli.fetch_stimuli("edge", tmp_path, base_url=SOURCE, classes=["bear", "clock"], progress=False)
    assert len(again.skipped) == 20 and not again.downloaded


def test_file_url_and_class_filter(tmp_path):
    report = stimuli.fetch_stimuli("silhouette", tmp_path, base_url=SOURCE.as_uri(), classes=["cat"], progress=True)
    assert len(report.downloaded) == 10
    assert {p.split("/")[1] for p in _all_files(tmp_path)} == {"cat"}


def test_cue_conflict_subset_and_missing_files(tmp_path):
    with pytest.raises(stimuli.MissingStimuliError, match="1274 of 1280 cue-conflict files are missing"):
        stimuli.fetch_stimuli("cue-conflict", tmp_path / "a", base_url=SOURCE, progress=False)
    report = stimuli.fetch_stimuli(
        "cue-conflict", tmp_path / "b", base_url=SOURCE, subset=PRESENT_CUE_CONFLICT, progress=False
    )
    assert len(report.downloaded) == 6
    partial = stimuli.fetch_stimuli(
        "cue-conflict", tmp_path / "c", base_url=SOURCE, classes=["bird"], allow_missing=True, progress=False
    )
    assert len(partial.downloaded) == 3 and len(partial.missing) == 77
    table = stimuli.stimulus_table(tmp_path / "b", "cue-conflict")
    assert table.height == 6 and (table["shape"] == table["category"]).all()
    dataset = stimuli.stimulus_dataset(tmp_path / "b", "cue-conflict", exclude_same=True)
    assert len(dataset) == 5  # cat1-cat3 has the same shape and texture class
    assert sorted(set(dataset.labels.tolist())) == [stimuli.CATEGORIES.index(c) for c in ("bird", "cat")]


class _Interrupt(Exception):
    pass


def test_interrupted_local_copy_resumes(tmp_path, monkeypatch):
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
        stimuli.fetch_stimuli("edges", tmp_path, base_url=SOURCE, classes=["bear"], progress=False)
    parts = [p for p in _all_files(tmp_path) if p.endswith(".part")]
    finished = [p for p in _all_files(tmp_path) if not p.endswith(".part")]
    assert len(parts) == 1 and len(finished) == 5  # the broken file never appears under its final name
    monkeypatch.setattr(stimuli, "_open_source", real_open)
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=SOURCE, classes=["bear"], progress=False)
    assert len(report.skipped) == 5 and len(report.downloaded) == 5
    assert len(_all_files(tmp_path)) == 10 and not any(p.endswith(".part") for p in _all_files(tmp_path))


def _mirror(target: Path, folder: str = "edges", name: str = "bear") -> list[Path]:
    shutil.copytree(SOURCE / "stimuli" / folder / name, target / "stimuli" / folder / name)
    return sorted((target / "stimuli" / folder / name).glob("*.png"))


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_source_file_is_rejected(tmp_path):
    tampered = _mirror(tmp_path / "mirror")[3]
    _tamper(tampered)
    dest = tmp_path / "dest"
    with pytest.raises(stimuli.ChecksumError, match=f"edges/bear/{tampered.name}") as info:
        stimuli.fetch_stimuli("edges", dest, base_url=tmp_path / "mirror", classes=["bear"], progress=False)
    assert info.value.path.endswith(tampered.name)
    kept = _all_files(dest)
    assert f"edges/bear/{tampered.name}" not in kept and not any(p.endswith(".part") for p in kept)


def test_tampered_local_copy_is_fetched_again(tmp_path):
    stimuli.fetch_stimuli("edges", tmp_path, base_url=SOURCE, classes=["clock"], progress=False)
    victim = min((tmp_path / "edges" / "clock").glob("*.png"))
    victim.write_bytes(b"tampered")
    report = stimuli.fetch_stimuli("edges", tmp_path, base_url=SOURCE, classes=["clock"], progress=False)
    assert report.downloaded == (f"stimuli/edges/clock/{victim.name}",) and len(report.skipped) == 9
    assert victim.read_bytes() == (SOURCE / "stimuli/edges/clock" / victim.name).read_bytes()


@pytest.fixture
def github(tmp_path):
    """The fixture served under the path of the default source, e.g.
    http://127.0.0.1:<port>/rgeirhos/texture-vs-shape/<commit>/stimuli/edges/bear/bear1.png."""
    prefix = urllib.parse.urlparse(stimuli.DEFAULT_BASE_URL).path
    assert prefix == f"/rgeirhos/texture-vs-shape/{stimuli.SOURCE_COMMIT}"
    root = tmp_path / "www"
    shutil.copytree(SOURCE / "stimuli", root / prefix.lstrip("/") / "stimuli")
    with LocalServer(root) as server:
        server.base = server.url(prefix)
        server.files = root / prefix.lstrip("/")
        yield server


def test_default_call_uses_the_bundled_manifest(github, tmp_path, monkeypatch):
    """``fetch_stimuli('cue-conflict', dest)`` exactly as a user writes it, with the default source
    pointed (through $ALIGNJAX_STIMULI_URL) at a server that has 6 of the 1280 files."""
    monkeypatch.setenv(stimuli.BASE_URL_ENV, github.base)
    dest = tmp_path / "dest"
    with pytest.raises(stimuli.MissingStimuliError, match="1274 of 1280 cue-conflict files are missing at http"):
        stimuli.fetch_stimuli("cue-conflict", dest)
    assert _all_files(dest) == sorted(f"style-transfer-preprocessed-512/{p}" for p in PRESENT_CUE_CONFLICT)
    report = stimuli.fetch_stimuli("cue-conflict", dest, subset=PRESENT_CUE_CONFLICT)
    assert len(report.skipped) == 6 and not report.downloaded


def test_http_tampered_file_rejected_and_partial_download_resumed(github, tmp_path):
    files = sorted((github.files / "stimuli/edges/bear").glob("*.png"))
    _tamper(files[2])
    dest = tmp_path / "dest"
    with pytest.raises(stimuli.ChecksumError, match=f"edges/bear/{files[2].name}"):
        stimuli.fetch_stimuli("edges", dest, base_url=github.base, classes=["bear"], progress=False)
    assert f"edges/bear/{files[2].name}" not in _all_files(dest)
    assert not any(p.endswith(".part") for p in _all_files(dest))
    shutil.copy(SOURCE / "stimuli/edges/bear" / files[2].name, files[2])  # the source is repaired
    original = (SOURCE / "stimuli/edges/bear" / files[2].name).read_bytes()
    part = dest / "edges/bear" / (files[2].name + ".part")
    part.write_bytes(original[:500])  # an earlier run stopped here
    github.requests.clear()
    report = stimuli.fetch_stimuli("edges", dest, base_url=github.base, classes=["bear"], progress=False)
    # the run had stopped at the third file: two verified ones are skipped, the part resumed, the rest fetched
    assert report.downloaded[0] == f"stimuli/edges/bear/{files[2].name}"
    assert len(report.downloaded) == 8 and len(report.skipped) == 2
    assert github.ranges() == ["bytes=500-"] + [None] * 7
    assert (dest / "edges/bear" / files[2].name).read_bytes() == original and not part.exists()


def test_http_connection_dropped_mid_file_is_resumed(github, tmp_path):
    name = "stimuli/filled-silhouettes/knife/knife1.png"
    data = (SOURCE / name).read_bytes()
    drops = {"n": 0}

    def flaky(handler, query):
        drops["n"] += 1
        send_bytes(handler, data, content_type="image/png", drop_after=300 if drops["n"] == 1 else None)

    github.route(urllib.parse.urlparse(f"{github.base}/{name}").path, flaky)
    report = stimuli.fetch_stimuli("filled-silhouettes", tmp_path, base_url=github.base, classes=["knife"],
                                   progress=False)
    assert len(report.downloaded) == 10 and drops["n"] == 2
    assert (tmp_path / "filled-silhouettes/knife/knife1.png").read_bytes() == data
    with pytest.raises(stimuli.MissingStimuliError, match="10 of 10"):
        stimuli.fetch_stimuli("filled-silhouettes", tmp_path / "b", base_url=github.base, classes=["oven"],
                              progress=False)


def test_unsupported_base_url(tmp_path):
    with pytest.raises(ValueError, match="unsupported base URL"):
        stimuli.fetch_stimuli("edges", tmp_path, base_url="ftp://example.invalid/x", progress=False)


def test_cue_conflict_names_parse(manifest):
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
