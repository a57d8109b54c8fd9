"""Runs every behavioural and engineering benchmark whose data is at hand for one model.

Geirhos2021 (top-1 and error consistency per dataset found under ``stimuli``) and Hermann2020 need only
the stimuli (the human trials ship with alignjax); ImageNet, ImageNet-C, Rajalingham2018 and Baker2022 run
when their folders are given. The result is one long-format table (``scores.SCORES_SCHEMA``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import polars as pl

from alignjax.alignment.behavioral import (
    baker2022,
    engineering,
    geirhos2021,
    hermann2020,
    imagenet16,
    rajalingham2018,
)
from alignjax.alignment.behavioral.model_outputs import ImageModel, Protocol, decoder, features_on, logits_on
from alignjax.alignment.behavioral.scores import Score, to_frame

BRAINSCORE = "brain-score/vision@d07d356"
MODELVSHUMAN = "bethgelab/model-vs-human@79ed7cd"
DECISIONS_SCHEMA = pl.Schema(
    {
        "dataset": pl.String,
        "stimulus_id": pl.String,
        "condition": pl.String,
        "truth": pl.String,
        "shape": pl.String,
        "texture": pl.String,
        "presentation": pl.String,
        "response": pl.String,
    }
)


@dataclasses.dataclass(frozen=True)
class BehaviorConfig:
    """What to run. ``stimuli``: a folder with Geirhos stimuli (see ``geirhos2021.find_stimuli``);
    ``datasets``: which of the 17 (None: every one found); the other folders enable their benchmarks."""

    stimuli: Path | None = None
    datasets: tuple[str, ...] | None = None
    imagenet_val: Path | None = None
    imagenet_labels: Path | None = None
    imagenet_n: int | None = None
    imagenet_c: Path | None = None
    imagenet_c_sampling: int = 10
    rajalingham: Path | None = None
    baker: Path | None = None
    protocol: Protocol = "brainscore"
    batch_size: int = 64


def _decision_rows(dataset: str, decisions: pl.DataFrame, presentation: str) -> pl.DataFrame:
    return decisions.select(
        pl.lit(dataset).alias("dataset"),
        "stimulus_id",
        "condition",
        "truth",
        "shape",
        "texture",
        pl.lit(presentation).alias("presentation"),
        "response",
    ).cast(dict(DECISIONS_SCHEMA))  # type: ignore[arg-type]


def _geirhos(
    model: ImageModel, config: BehaviorConfig, log: Callable[[str], None], decisions: list[pl.DataFrame]
) -> list[Score]:
    results: list[Score] = []
    requested = config.datasets is not None
    for dataset in config.datasets if requested else geirhos2021.DATASETS:
        try:
            stimuli = geirhos2021.find_stimuli(config.stimuli, dataset)
        except FileNotFoundError:
            if requested:
                raise
            continue
        paths = stimuli["path"].to_list()
        plain = logits_on(
            model,
            paths,
            decoder(model.image_size, config.protocol),
            batch_size=config.batch_size,
            description=dataset,
        )
        if config.protocol == "brainscore":
            placed = logits_on(
                model,
                paths,
                decoder(model.image_size, source_degrees=geirhos2021.SCREEN_DEGREES),
                batch_size=config.batch_size,
                description=f"{dataset} on screen",
            )
        else:
            placed = plain
        out = geirhos2021.scores_from_logits(stimuli, placed, plain, dataset)
        decisions.append(_decision_rows(dataset, out["decisions_plain"], "plain"))
        if config.protocol == "brainscore":
            decisions.append(_decision_rows(dataset, out["decisions_on_screen"], "on_screen"))
        n = stimuli.height
        total = geirhos2021.human_decisions(dataset)["stimulus_id"].n_unique()
        log(
            f"{dataset}: {n} of {total} images"
            + ("" if n == total else " (a subset: scores are not comparable)")
        )
        value, error = out["top1"]
        results.append(
            Score(
                geirhos2021.benchmark_name(dataset, "top1"),
                "top1",
                value,
                value,
                1.0,
                error,
                n,
                "engineering",
                f"{BRAINSCORE}:benchmarks/geirhos2021",
            )
        )
        consistency = out["error_consistency"]
        results.append(
            Score(
                geirhos2021.benchmark_name(dataset, "error_consistency"),
                "error_consistency",
                consistency.ceiled,
                consistency.raw.value,
                consistency.ceiling.value,
                consistency.raw.error,
                n,
                "alignment",
                f"{BRAINSCORE}:benchmarks/geirhos2021",
            )
        )
        if dataset == "cue-conflict":
            results.extend(_hermann(out["decisions_plain"]))
    return results


def _hermann(decisions: pl.DataFrame) -> list[Score]:
    overall, per_class = hermann2020.scores(decisions)
    reference = f"{BRAINSCORE}:benchmarks/hermann2020; {MODELVSHUMAN}:modelvshuman/plotting/analyses.py"
    n = int(overall["conflict_trials"])
    results = [
        Score(
            hermann2020.SHAPE_MATCH,
            "shape_match",
            overall["shape_match"],
            overall["shape_match"],
            1.0,
            None,
            n,
            "engineering",
            reference,
        )
    ]
    if overall["shape_bias"] is not None:
        results.append(
            Score(
                hermann2020.SHAPE_BIAS,
                "shape_bias",
                overall["shape_bias"],
                overall["shape_bias"],
                1.0,
                None,
                n,
                "engineering",
                reference,
            )
        )
    for row in per_class.iter_rows(named=True):
        if row["shape_bias"] is not None:
            results.append(
                Score(
                    hermann2020.SHAPE_BIAS,
                    "shape_bias",
                    row["shape_bias"],
                    row["shape_bias"],
                    1.0,
                    None,
                    row["conflict_trials"],
                    "engineering",
                    reference,
                    subset=f"shape={row['shape']}",
                )
            )
    return results


def _imagenet(model: ImageModel, config: BehaviorConfig) -> list[Score]:
    from alignjax.data.imagenet import imagenet_val

    dataset = imagenet_val(config.imagenet_val, labels_csv=config.imagenet_labels, n=config.imagenet_n)
    logits = logits_on(
        model,
        list(dataset.paths),
        decoder(model.image_size, config.protocol),
        batch_size=config.batch_size,
        description="ImageNet validation",
    )
    value, error = engineering.top1(logits, dataset.labels)
    return [
        Score(
            "ImageNet-top1",
            "top1",
            value,
            value,
            1.0,
            error,
            len(dataset),
            "engineering",
            f"{BRAINSCORE}:benchmarks/imagenet",
        )
    ]


def _imagenet_c(model: ImageModel, config: BehaviorConfig) -> list[Score]:
    files = engineering.imagenet_c_files(config.imagenet_c, sampling_factor=config.imagenet_c_sampling)
    logits = logits_on(
        model,
        files["path"].to_list(),
        decoder(model.image_size, config.protocol),
        batch_size=config.batch_size,
        description="ImageNet-C",
    )
    table = engineering.imagenet_c_scores(files, logits)
    return [
        Score(
            row["benchmark"],
            "top1",
            row["value"],
            row["value"],
            1.0,
            row["error"],
            row["n_stimuli"],
            "engineering",
            f"{BRAINSCORE}:benchmarks/imagenet_c",
        )
        for row in table.iter_rows(named=True)
    ]


def _rajalingham(model: ImageModel, config: BehaviorConfig) -> list[Score]:
    stimuli, trials = rajalingham2018.load(config.rajalingham)
    decode = decoder(model.image_size, "brainscore", source_degrees=rajalingham2018.VISUAL_DEGREES)
    features = features_on(
        model, stimuli["path"].to_list(), decode, batch_size=config.batch_size, description="objectome.public"
    )
    ids = stimuli["stimulus_id"].to_list()
    result = rajalingham2018.score(
        features, stimuli["image_label"].cast(pl.String).to_list(), features, ids, trials
    )
    n = trials["stimulus_id"].n_unique()
    return [
        Score(
            "Rajalingham2018public-i2n",
            "i2n",
            result.value,
            float(result.raw.mean()),
            float(result.ceiling.mean()),
            result.error,
            n,
            "alignment",
            f"{BRAINSCORE}:benchmarks/rajalingham2018, metrics/i1i2",
        )
    ]


def _baker(model: ImageModel, config: BehaviorConfig) -> list[Score]:
    results = []
    for name, data_name in (
        ("normal", "Baker2022_normal_distortion"),
        ("inverted", "Baker2022_inverted_distortion"),
    ):
        folder = Path(config.baker) / data_name
        if not folder.is_dir():
            continue
        stimuli, trials = baker2022.load(folder, data_name)
        stimuli = stimuli.filter(pl.col("orientation") == name)
        trials = trials.filter(pl.col("orientation") == name)
        labels = tuple(sorted(stimuli["animal"].unique().to_list()))
        logits = logits_on(
            model,
            stimuli["path"].to_list(),
            decoder(model.image_size, "brainscore", source_degrees=baker2022.VISUAL_DEGREES),
            batch_size=config.batch_size,
            description=data_name,
        )
        decisions = stimuli.with_columns(
            pl.Series("response", imagenet16.decide(logits, labels), dtype=pl.String)
        )
        for benchmark, (orientation, image_types) in baker2022.BENCHMARKS.items():
            if orientation != name or image_types[1] not in set(stimuli["image_type"].to_list()):
                continue
            score = baker2022.score(decisions, trials, image_types)
            results.append(
                Score(
                    f"Baker2022{benchmark}-accuracy_delta",
                    "accuracy_delta",
                    score.ceiled,
                    score.raw,
                    score.ceiling,
                    score.raw_error,
                    stimuli.height,
                    "alignment",
                    f"{BRAINSCORE}:benchmarks/baker2022, metrics/baker_accuracy_delta",
                )
            )
    if not results:
        raise FileNotFoundError(
            f"no Baker2022_normal_distortion/ or Baker2022_inverted_distortion/ under {config.baker}"
        )
    return results


@dataclasses.dataclass(frozen=True)
class BehaviorResult:
    """``scores`` (``SCORES_SCHEMA``) and the model's Geirhos decisions (``DECISIONS_SCHEMA``: one row
    per dataset, stimulus and presentation, 'plain' or 'on_screen' at 3 degrees)."""

    scores: pl.DataFrame
    decisions: pl.DataFrame


def run_behavior(
    model: ImageModel, config: BehaviorConfig, *, log: Callable[[str], None] = print
) -> BehaviorResult:
    """Every benchmark ``config`` enables, for ``model``."""
    results: list[Score] = []
    decisions: list[pl.DataFrame] = []
    if config.stimuli is not None:
        results.extend(_geirhos(model, config, log, decisions))
    if config.imagenet_val is not None:
        results.extend(_imagenet(model, config))
    if config.imagenet_c is not None:
        results.extend(_imagenet_c(model, config))
    if config.rajalingham is not None:
        results.extend(_rajalingham(model, config))
    if config.baker is not None:
        results.extend(_baker(model, config))
    if not results:
        raise FileNotFoundError("no benchmark data found: give Geirhos stimuli or another benchmark's folder")
    table = pl.concat(decisions) if decisions else pl.DataFrame(schema=DECISIONS_SCHEMA)
    return BehaviorResult(to_frame(model.name, config.protocol, results), table)
