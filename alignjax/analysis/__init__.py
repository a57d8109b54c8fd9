"""Which alignment benchmarks predict adversarial robustness: ingest, statistics, plots, report.

Names are imported on first use (PEP 562), so importing one module does not pull in matplotlib.
Typical use::

    from alignjax.analysis import read_leaderboard, read_robustness, build_data, run_analysis, write_report
    data = build_data(read_leaderboard("leaderboard.csv").frame, read_robustness("robust.csv").frame)
    result = run_analysis(data)                       # polars tables: correlations, partial, ranking, ...
    write_report(result, "report/", config=AnalysisConfig(), inputs=["leaderboard.csv", "robust.csv"])

The command line is ``alignjax analyze`` (alignjax/commands/analyze.py).
"""

from __future__ import annotations

from alignjax.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "AliasTable": "alignjax.analysis.aliases",
    "AnalysisConfig": "alignjax.analysis.pipeline",
    "AnalysisData": "alignjax.analysis.dataset",
    "AnalysisResult": "alignjax.analysis.pipeline",
    "EmbeddingConfig": "alignjax.analysis.embedding",
    "Ingested": "alignjax.analysis.schemas",
    "ROBUSTNESS_SCHEMA": "alignjax.analysis.schemas",
    "ResamplingConfig": "alignjax.analysis.resampling",
    "SCORES_SCHEMA": "alignjax.analysis.schemas",
    "benjamini_hochberg": "alignjax.analysis.statistics",
    "benjamini_hochberg_expr": "alignjax.analysis.statistics",
    "build_data": "alignjax.analysis.dataset",
    "correlate": "alignjax.analysis.resampling",
    "embed": "alignjax.analysis.embedding",
    "load_protocol": "alignjax.analysis.protocol",
    "nested_f_test": "alignjax.analysis.regression",
    "ols": "alignjax.analysis.regression",
    "read_attack_runs": "alignjax.analysis.ingest",
    "read_leaderboard": "alignjax.analysis.leaderboard",
    "read_robustness": "alignjax.analysis.ingest",
    "read_scores": "alignjax.analysis.ingest",
    "reconcile": "alignjax.analysis.aliases",
    "robustbench_robustness": "alignjax.analysis.robustbench",
    "robustbench_table": "alignjax.analysis.robustbench",
    "run_analysis": "alignjax.analysis.pipeline",
    "write_report": "alignjax.analysis.report",
}

lazy_exports(__name__, _EXPORTS, globals())
