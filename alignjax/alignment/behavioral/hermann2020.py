"""Hermann, Chen & Kornblith (NeurIPS 2020): shape match and shape bias on the Geirhos cue-conflict stimuli.

brain-score/vision@d07d356 ``benchmarks/hermann2020/benchmark.py``: 16-way decisions (over the sorted
true labels) on the cue-conflict stimulus set, shown as they are (no visual-degree placement); images
whose shape and texture classes agree are removed; ``Hermann2020cueconflict-shape_match`` is the accuracy
against the shape class, ``...-texture_match`` against the texture class, and
``Hermann2020cueconflict-shape_bias`` = shape_match / (shape_match + texture_match). Both are engineering
scores (ceiling 1). This is the same number as model-vs-human's shape bias (``shape_bias.py``).
"""

from __future__ import annotations

import polars as pl

from alignjax.alignment.behavioral import shape_bias

SHAPE_BIAS = "Hermann2020cueconflict-shape_bias"
SHAPE_MATCH = "Hermann2020cueconflict-shape_match"


def scores(decisions: pl.DataFrame) -> tuple[dict, pl.DataFrame]:
    """(overall ``shape_bias.shape_bias`` result, per shape class table) of plain-shown cue-conflict
    decisions (rows with ``shape``, ``texture``, ``response``)."""
    return shape_bias.shape_bias(decisions), shape_bias.shape_bias_per_class(decisions)
