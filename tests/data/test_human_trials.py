"""model-vs-human trial tables from ../shared/data: explicit schema, parsed fields, stimulus mapping."""

from __future__ import annotations

import polars as pl
import pytest

from alignjax.data import human_trials, stimuli


def test_all_datasets_read_with_the_schema(shared_data):
    root = shared_data / "model-vs-human"
    assert len(human_trials.available_datasets(root)) == 17
    frame = human_trials.read_human_trials(root)
    assert frame.schema == human_trials.TRIALS_SCHEMA
    assert frame.height == 85_120
    assert frame["dataset"].n_unique() == 17
    # conditions stay text: '0.4' and '0.40' would collapse as floats
    assert frame.filter(pl.col("dataset") == "colour")["condition"].unique().sort().to_list() == ["bw", "cr"]
    # image names agree with the table's own columns
    parts = pl.col("imagename").str.splitn("_", 7)
    agree = frame.select(
        (parts.struct.field("field_4") == pl.col("category")).all().alias("category"),
        (parts.struct.field("field_3") == pl.col("condition")).all().alias("condition"),
        (parts.struct.field("field_0").cast(pl.Int32) == pl.col("trial")).all().alias("trial"),
    )
    assert agree.row(0) == (True, True, True)
    missing_rt = frame.filter(pl.col("rt").is_null())
    assert missing_rt.height > 0 and (missing_rt["object_response"] == "na").all()


def test_capitalised_session_header_is_normalised(shared_data):
    frame = human_trials.read_human_trials(shared_data / "model-vs-human" / "raw-data", "colour")
    assert frame["session"].unique().to_list() == [1]
    assert frame["subject"].min() >= 1


def test_cue_conflict_trials_name_existing_stimuli(shared_data):
    frame = human_trials.read_cue_conflict_trials(shared_data / "model-vs-human")
    assert frame.schema == human_trials.CUE_CONFLICT_SCHEMA
    assert frame.height == 1280 * 10 and frame["stimulus_file"].n_unique() == 1280
    assert (frame["shape"] == frame["category"]).all()
    manifest = stimuli.read_manifest(shared_data / "texture-vs-shape" / stimuli.MANIFEST_NAME)
    cue_files = set(
        manifest.filter(pl.col("path").str.starts_with("stimuli/style-transfer-preprocessed-512/"))["path"]
        .str.strip_prefix("stimuli/style-transfer-preprocessed-512/")
        .to_list()
    )
    assert set(frame["stimulus_file"].to_list()) == cue_files
    first = frame.row(0, named=True)
    assert first["imagename"] == "0001_s5n_s01_0_bird_00_bird3-bird2.png"
    assert (first["stimulus_file"], first["shape"], first["texture"]) == (
        "bird/bird3-bird2.png",
        "bird",
        "bird",
    )


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


def test_unknown_dataset_is_named(shared_data):
    with pytest.raises(FileNotFoundError, match="no trial CSVs for dataset 'nope'"):
        human_trials.read_human_trials(shared_data / "model-vs-human", "nope")
