"""BrainIO files: verified downloads with a cache, stimulus sets, NetCDF assemblies, repetition averaging."""

import functools
import http.server
import threading
import zipfile

import numpy as np
import polars as pl
import pytest
import xarray as xr

from alignjax.alignment.neural import brainio
from alignjax.alignment.neural.assemblies import NeuralAssembly, average_repetitions, read_assembly
from alignjax.alignment.neural.benchmarks import PUBLIC_BENCHMARKS, load_benchmark_data
from alignjax.alignment.neural.stimulus_set import read_stimulus_set
from tests.alignment.neural.synthetic import N_NEUROIDS, N_STIMULI, REPETITIONS


@pytest.fixture
def http_mirror(mirror):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror.folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_is_verified_and_cached(mirror, http_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "none"))
    entry = mirror.assemblies["dicarlo.MajajHong2015.public"].file
    path = brainio.fetch_file(entry, cache=tmp_path, base_url=http_mirror)
    assert path == tmp_path / entry.filename and brainio.sha1_file(path) == entry.sha1
    # cached: no source needed any more
    assert brainio.fetch_file(entry, cache=tmp_path, base_url=str(tmp_path / "nowhere")) == path
    wrong = brainio.RemoteFile(entry.filename.replace(".nc", "_copy.nc"), "0" * 40)
    (mirror.folder / wrong.filename).write_bytes(path.read_bytes())
    with pytest.raises(brainio.ChecksumError, match="file rejected"):
        brainio.fetch_file(wrong, cache=tmp_path, base_url=http_mirror)
    assert not list(tmp_path.glob("*_copy.nc*"))  # neither the file nor its .part is kept
    with pytest.raises(FileNotFoundError, match="HTTP 404"):
        brainio.fetch_file(brainio.RemoteFile("absent.nc", "0" * 40), cache=tmp_path, base_url=http_mirror)


def test_local_mirror_as_a_folder_or_a_file_url(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "none"))
    entry = mirror.assemblies["dicarlo.MajajHong2015.public"].file
    for name, base_url in (("folder", str(mirror.folder)), ("url", mirror.folder.as_uri())):
        path = brainio.fetch_file(entry, cache=tmp_path / name, base_url=base_url)
        assert brainio.sha1_file(path) == entry.sha1
    with pytest.raises(FileNotFoundError, match="not in the mirror folder"):
        brainio.fetch_file(brainio.RemoteFile("absent.nc", "0" * 40), cache=tmp_path, base_url=mirror.folder.as_uri())


def test_registered_files_follow_brainscore_names():
    assert brainio.ASSEMBLIES["dicarlo.MajajHong2015.public"].file.filename == "assy_dicarlo_MajajHong2015_public.nc"
    entry = brainio.STIMULUS_SETS["FreemanZiemba2013.aperture-public"]
    assert (entry.csv.filename, entry.zip.filename) == ("stimulus_FreemanZiemba2013_aperture-public.csv",
                                                        "stimulus_FreemanZiemba2013_aperture-public.zip")
    versioned = brainio.ASSEMBLIES["movshon.FreemanZiemba2013.public"].file
    assert versioned.url().endswith("brainio-brainscore/assy_movshon_FreemanZiemba2013_public.nc"
                                    "?versionId=W2vx7jdh9utZdVumHHarXa4L1zOrA8Fd")
    assert len({PUBLIC_BENCHMARKS[r].assembly for r in ("V1", "V2")}) == 1


def test_zip_members_outside_the_folder_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("../escaped.png", b"x")
    with pytest.raises(ValueError, match="outside its folder"):
        brainio.extract_zip(archive)
    assert not (tmp_path / "escaped.png").exists()


def test_freeman_ziemba_layout_region_and_time_window(mirror):
    path = mirror.folder / mirror.assemblies["movshon.FreemanZiemba2013.public"].file.filename
    assembly = read_assembly(path, region="V2", time_window=(50, 200))
    np.testing.assert_allclose(assembly.responses, mirror.truths["V2"].trials, rtol=1e-6)
    assert assembly.neuroid["region"].unique().to_list() == ["V2"]
    assert assembly.presentation["stimulus_id"][0] == "fz0000"  # legacy image_id copied to stimulus_id
    with pytest.raises(ValueError, match="25 time bins; give a time window"):
        read_assembly(path, region="V1")
    with pytest.raises(ValueError, match="regions: \\['V1', 'V2'\\]"):
        read_assembly(path, region="IT", time_window=(50, 200))


def test_benchmark_data_merges_stimuli_and_averages_repetitions(registered_mirror):
    data = load_benchmark_data(PUBLIC_BENCHMARKS["IT"])
    truth = registered_mirror.truths["IT"]
    assert data.trials.responses.shape == (N_STIMULI * REPETITIONS, N_NEUROIDS)
    expected = truth.trials.reshape(N_STIMULI, REPETITIONS, N_NEUROIDS).mean(axis=1)
    np.testing.assert_allclose(data.averaged.responses, expected, rtol=1e-12)
    assert data.averaged.stimulus_ids.tolist() == [f"hvm{i:04d}" for i in range(N_STIMULI)]
    assert data.stratification.tolist() == [f"object{i % 20:02d}" for i in range(N_STIMULI)]
    assert data.averaged.stimulus_set.paths(["hvm0003"])[0].is_file()


def test_average_matches_xarray_groupby_order_and_nan_skipping():
    rng = np.random.default_rng(0)
    ids = np.array(["b", "c", "a", "c", "a", "b", "a"])
    responses = rng.normal(size=(7, 3))
    responses[2, 1] = np.nan
    assembly = NeuralAssembly("x", responses, pl.DataFrame({"stimulus_id": ids, "repetition": [0, 0, 0, 1, 1, 1, 2]}),
                              pl.DataFrame({"neuroid_id": ["n0", "n1", "n2"]}))
    reference = xr.DataArray(responses, dims=("presentation", "neuroid"),
                             coords={"stimulus_id": ("presentation", ids)}).groupby("stimulus_id").mean(skipna=True)
    averaged = average_repetitions(assembly)
    assert averaged.stimulus_ids.tolist() == reference["stimulus_id"].values.tolist()
    np.testing.assert_allclose(averaged.responses, reference.values)


def test_stimulus_set_errors_name_the_problem(mirror, tmp_path):
    entry = mirror.stimulus_sets["hvm-public"]
    with pytest.raises(FileNotFoundError, match="200 images of .* are missing"):
        read_stimulus_set(mirror.folder / entry.csv.filename, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("stimulus_id,filename\na,a.png\na,b.png\n")
    with pytest.raises(ValueError, match="not unique"):
        read_stimulus_set(bad, tmp_path)
