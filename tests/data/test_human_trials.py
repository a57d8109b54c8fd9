"""model-vs-human trial tables shipped in the package: schema, integrity, counts, the CSV reader and the
stimulus mapping. Self-contained: CSVs are written from the shipped table into a temporary folder."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from alignjax.data import human_trials, stimuli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geirhos"

# subjects and unique images per dataset, as brain-score/vision@d07d356 data/geirhos2021/test.py states
EXPECTED = {
    "colour": (4, 1280), "contrast": (4, 1280), "cue-conflict": (10, 1280), "edge": (10, 160),
    "eidolonI": (4, 1280), "eidolonII": (4, 1280), "eidolonIII": (4, 1280), "false-colour": (4, 1120),
    "high-pass": (4, 1280), "low-pass": (4, 1280), "phase-scrambling": (4, 1120),
    "power-equalisation": (4, 1120), "rotation": (4, 1280), "silhouette": (10, 160), "stylized": (5, 800),
    "sketch": (7, 800), "uniform-noise": (4, 1280),
}  # fmt: skip


def test_packaged_trials_have_the_schema_and_the_published_counts():
    frame = human_trials.load_human_trials()
    assert frame.schema == human_trials.TRIALS_SCHEMA
    assert frame.height == 85_120 and human_trials.packaged_datasets() == sorted(EXPECTED)
    counts = frame.group_by("dataset").agg(
        pl.col("subject").n_unique().alias("subjects"), pl.col("stimulus_id").n_unique().alias("images")
    )
    assert {row[0]: (row[1], row[2]) for row in counts.iter_rows()} == EXPECTED
    # every subject saw every image of a dataset exactly once, always in the same condition
    per_image = frame.group_by("dataset", "stimulus_id").agg(
        pl.len().alias("trials"), pl.col("subject").n_unique().alias("subjects"),
        pl.col("condition").n_unique().alias("conditions"),
    )  # fmt: skip
    assert (per_image["trials"] == per_image["subjects"]).all() and (per_image["conditions"] == 1).all()
    # conditions stay text: '0.4' and '0.40' would collapse as floats
    assert frame.filter(pl.col("dataset") == "colour")["condition"].unique().sort().to_list() == ["bw", "cr"]
    parts = pl.col("imagename").str.splitn("_", 7)
    agree = frame.select(
        (parts.struct.field("field_4") == pl.col("category")).all().alias("category"),
        (parts.struct.field("field_3") == pl.col("condition")).all().alias("condition"),
        (parts.struct.field("field_0").cast(pl.Int32) == pl.col("trial")).all().alias("trial"),
    )
    assert agree.row(0) == (True, True, True)
    missing_rt = frame.filter(pl.col("rt").is_null())
    assert missing_rt.height > 0 and (missing_rt["object_response"] == "na").all()


def test_packaged_parquet_matches_its_provenance():
    record = human_trials.provenance()
    assert record["commit"] == human_trials.SOURCE_COMMIT and record["source"].endswith("model-vs-human")
    data = resources.files("alignjax.data").joinpath(human_trials.PACKAGED_TRIALS).read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["parquet_sha256"]
    assert len(record["files"]) == 90 and sum(f["rows"] == 1280 for f in record["files"]) > 0
    assert sum(f["rows"] for f in record["files"]) == record["rows"] == 85_120
    licence = resources.files("alignjax.data").joinpath("HUMAN_TRIALS_LICENSE.md").read_text()
    assert "MIT License" in licence and human_trials.SOURCE_COMMIT in licence


def _write_csvs(frame: pl.DataFrame, root: Path, capital_session: set[str]) -> None:
    """One CSV per dataset and subject, in the model-vs-human layout (rt missing as 'NaN')."""
    for (dataset, subj), rows in frame.group_by("dataset", "subj", maintain_order=True):
        folder = root / "raw-data" / dataset
        folder.mkdir(parents=True, exist_ok=True)
        table = rows.select(human_trials.RAW_COLUMNS).with_columns(pl.col("rt").fill_null(float("nan")))
        if dataset in capital_session:
            table = table.rename({"session": "Session"})
        table.write_csv(folder / f"{dataset}_{subj}_session_1.csv")


def test_csv_reader_and_packager_round_trip(tmp_path):
    shipped = human_trials.load_human_trials(["colour", "edge"])
    _write_csvs(shipped, tmp_path, capital_session={"colour"})
    assert human_trials.available_datasets(tmp_path) == ["colour", "edge"]
    read = human_trials.read_human_trials(tmp_path)
    assert read.schema == human_trials.TRIALS_SCHEMA
    assert read.equals(shipped)  # including the capitalised 'Session' header and NaN reaction times
    record = human_trials.write_packaged_trials(tmp_path / "raw-data", tmp_path)
    assert record["rows"] == shipped.height and len(record["files"]) == 14
    rebuilt = pl.read_parquet(tmp_path / human_trials.PACKAGED_TRIALS)
    assert rebuilt.equals(shipped.select(list(human_trials.PACKAGED_SCHEMA)))


def test_cue_conflict_trials_name_their_stimuli():
    frame = human_trials.load_cue_conflict_trials()
    assert frame.schema == human_trials.CUE_CONFLICT_SCHEMA
    assert frame.height == 1280 * 10 and frame["stimulus_file"].n_unique() == 1280
    assert (frame["shape"] == frame["category"]).all()
    assert (frame["stimulus_file"].str.extract(r"/(.+)\.png$") == frame["stimulus_id"]).all()
    first = frame.row(0, named=True)
    assert first["imagename"] == "0001_s5n_s01_0_bird_00_bird3-bird2.png"
    assert (first["stimulus_file"], first["shape"], first["texture"]) == (
        "bird/bird3-bird2.png",
        "bird",
        "bird",
    )
    # the stimuli shipped as test fixtures are files the humans saw, with the classes their names state
    fixture = stimuli.stimulus_table(FIXTURES, "cue-conflict")
    assert set(fixture["file"].to_list()) <= set(frame["stimulus_file"].to_list())
    for set_name, dataset in (("edges", "edge"), ("filled-silhouettes", "silhouette")):
        files = stimuli.stimulus_table(FIXTURES, set_name)
        ids = set(human_trials.load_human_trials(dataset)["stimulus_id"].to_list())
        assert {Path(file).stem for file in files["file"].to_list()} <= ids


def test_single_name_mapping():
    assert (
        human_trials.cue_conflict_stimulus_file("0001_s5n_s01_0_bird_00_bird3-bird2.png")
        == "bird/bird3-bird2.png"
    )
    assert (
        human_trials.cue_conflict_stimulus_file("0042_s5n_s07_0_cat_00_cat4-elephant1.png")
        == "cat/cat4-elephant1.png"
    )
    with pytest.raises(ValueError, match="not a cue-conflict image name"):
        human_trials.cue_conflict_stimulus_file("0001_edg_s01_0_oven_00_oven10.png")


def test_unknown_dataset_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"no human trials for dataset\(s\) \['nope'\]"):
        human_trials.load_human_trials("nope")
    (tmp_path / "raw-data" / "edge").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no trial CSVs for dataset 'nope'"):
        human_trials.read_human_trials(tmp_path, "nope")


def test_a_checkouts_cue_conflict_trials_are_the_shipped_ones(tmp_path):
    shipped = human_trials.load_human_trials("cue-conflict")
    _write_csvs(shipped, tmp_path, capital_session=set())
    read = human_trials.read_cue_conflict_trials(tmp_path)
    assert read.schema == human_trials.CUE_CONFLICT_SCHEMA
    assert read.equals(human_trials.load_cue_conflict_trials())
    folder = human_trials.raw_data_folder(tmp_path) / "cue-conflict"
    csv = min(folder.glob("*.csv"))
    csv.write_text(csv.read_text().replace("bird3-bird2", "bird3", 1))  # an image name without its texture
    with pytest.raises(ValueError, match=r"1 cue-conflict image name\(s\) do not parse"):
        human_trials.read_cue_conflict_trials(tmp_path)
