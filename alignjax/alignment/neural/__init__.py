"""Brain-Score neural predictivity in JAX: V1, V2 (FreemanZiemba2013) and V4, IT (MajajHong2015).

Pipeline: ``activations`` (named layers of any zoo model, Brain-Score's stimulus placement) ->
``gram`` (one stimulus Gram matrix per layer) -> ``regression``/``pls`` (kernel-form PLS, ridge, least
squares) over ``splits`` (Brain-Score's seeded stratified splits) -> ``correlation`` (Pearson per
neuroid, median, mean) -> ``ceiling`` (split-half with Spearman-Brown; both normalisations) ->
``scoring``; ``layer_selection`` commits a layer per region; ``model_scoring`` runs it all for a model.
Data: ``brainio`` (verified downloads), ``stimulus_set``, ``assemblies``, ``benchmarks``.

Names are imported on first use, so the metrics need neither polars nor xarray.
"""

from __future__ import annotations

from alignjax.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "BENCHMARKS": "alignjax.alignment.neural.benchmarks",
    "Ceiling": "alignjax.alignment.neural.ceiling",
    "FeatureModel": "alignjax.alignment.neural.activations",
    "LinearConfig": "alignjax.alignment.neural.regression",
    "NeuralAssembly": "alignjax.alignment.neural.assemblies",
    "NeuralScore": "alignjax.alignment.neural.scoring",
    "PLSConfig": "alignjax.alignment.neural.pls",
    "Predictivity": "alignjax.alignment.neural.predictivity",
    "RidgeConfig": "alignjax.alignment.neural.regression",
    "ScoringConfig": "alignjax.alignment.neural.model_scoring",
    "SplitConfig": "alignjax.alignment.neural.splits",
    "StimulusSet": "alignjax.alignment.neural.stimulus_set",
    "brainscore_splits": "alignjax.alignment.neural.splits",
    "default_layers": "alignjax.alignment.neural.activations",
    "extract": "alignjax.alignment.neural.activations",
    "fit_pca": "alignjax.alignment.neural.pca",
    "gram_matrix": "alignjax.alignment.neural.gram",
    "internal_consistency": "alignjax.alignment.neural.ceiling",
    "load_benchmark_data": "alignjax.alignment.neural.benchmarks",
    "normalise": "alignjax.alignment.neural.ceiling",
    "pls_fit_predict": "alignjax.alignment.neural.pls",
    "predictivity": "alignjax.alignment.neural.predictivity",
    "read_assembly": "alignjax.alignment.neural.assemblies",
    "score_features": "alignjax.alignment.neural.scoring",
    "score_model": "alignjax.alignment.neural.model_scoring",
}

lazy_exports(__name__, _EXPORTS, globals())
