"""The analysis written to a folder: PNG figures, the tables (parquet and CSV) and one HTML page.

Layout of ``--out``:
  index.html                 the report (figures linked relatively; opens offline)
  heatmap_<method>.png       benchmarks x eps, per correlation method
  top_predictors.png         robust accuracy vs the strongest predictors, OLS fits per eps
  predictor_bars.png         top predictors with bootstrap intervals
  aggregates.png             the paper's aggregate-score regressions (if the aggregates are present)
  embedding.png              2-D embedding of the models (if enough models)
  correlations.parquet/.csv, partial.csv, regressions.csv, ranking.csv, embedding.csv, notes.txt
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path

import polars as pl

from alignjax.analysis import plots
from alignjax.analysis.pipeline import AnalysisConfig, AnalysisResult

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
li{margin:0.2em 0}code{background:#f5f5f5;padding:0 3px}"""


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.3f}"
    return html.escape(str(value))


def html_table(frame: pl.DataFrame, limit: int = 25) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in frame.head(limit).iter_rows())
    more = f"<p>({frame.height - limit} more rows in the CSV)</p>" if frame.height > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def write_tables(result: AnalysisResult, out: Path) -> None:
    result.correlations.write_parquet(out / "correlations.parquet")
    result.correlations.write_csv(out / "correlations.csv")
    for name in ("partial", "regressions", "ranking", "embedding"):
        getattr(result, name).write_csv(out / f"{name}.csv")
    (out / "notes.txt").write_text("\n".join(result.notes) + "\n")


def write_figures(result: AnalysisResult, out: Path, config: AnalysisConfig) -> dict[str, Path]:
    figures = {f"heatmap_{m}": plots.heatmap(result, m, out / f"heatmap_{m}.png") for m in config.methods}
    figures["top_predictors"] = plots.top_predictor_scatter(result, config.primary_method, config.top_k,
                                                             out / "top_predictors.png")
    figures["predictor_bars"] = plots.predictor_bars(result, config.primary_method, 20, out / "predictor_bars.png")
    for name, path in (("aggregates", plots.aggregate_scatter(result, out / "aggregates.png")),
                       ("embedding", plots.embedding_plot(result, out / "embedding.png"))):
        if path is not None:
            figures[name] = path
    return figures


def write_report(result: AnalysisResult, out: str | Path, *, config: AnalysisConfig, inputs: list[str],
                 title: str = "Alignment vs adversarial robustness", protocol: str | None = None) -> Path:
    """Writes figures, tables and ``index.html`` into ``out``; returns the HTML path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(result, out)
    figures = write_figures(result, out, config)
    data = result.data
    resampling = config.resampling
    method = config.primary_method
    ranking = result.ranking.select("rank", "benchmark", "category", "mean_estimate", "mean_partial", "min_q_value", "min_n")
    robust = result.correlations.filter((pl.col("method") == method) & (pl.col("kind") == "robust"))
    significant = robust.filter(pl.col("q_value") < plots.SIGNIFICANCE).height
    image = lambda name, caption: (f"<figure><img src='{figures[name].name}' alt='{caption}'><figcaption>{caption}"
                                   "</figcaption></figure>") if name in figures else ""
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        (f"<p>{len(data.models)} models, {data.scores.shape[0]} benchmarks, targets: "
         f"{html.escape(', '.join(data.targets.get_column('target')))}. "
         f"{significant} of {robust.height} (benchmark, eps) {method} correlations have q &lt; {plots.SIGNIFICANCE} "
         "(Benjamini-Hochberg within each method and target).</p>"),
        (f"<p>Statistics on pairwise-complete models: {', '.join(config.methods)} (scipy definitions; ties get average "
         f"ranks, Kendall is tau-b); {resampling.n_bootstrap} paired bootstrap resamples ({resampling.interval} "
         f"{resampling.confidence_level:.0%} intervals) and {resampling.n_permutations} permutations "
         f"(seed {resampling.seed}) for {', '.join(config.resampled_methods) or 'none'}; pairs with fewer than "
         f"{config.min_models} complete models are left empty. Partial correlations control for clean accuracy.</p>"),
        "<h2>Predictor ranking</h2>", html_table(ranking),
        image("predictor_bars", "Top predictors, bootstrap intervals per eps"),
        image("top_predictors", "Robust accuracy against the strongest predictors"),
        f"<h2>Correlation heatmap ({method})</h2>", image(f"heatmap_{method}", "Benchmarks x targets"),
        "<h2>Aggregate alignment (the paper's OLS)</h2>",
        html_table(result.regressions.select("aggregate", "target", "n", "slope", "r_squared", "f_value", "f_p_value",
                                             "r_squared_clean", "r_squared_clean_and_aggregate", "f_added_p_value"))
        if result.regressions.height else "<p>No aggregate scores (average_vision, ...) in the inputs.</p>",
        image("aggregates", "Robust accuracy against aggregate alignment"),
        "<h2>Embedding</h2>", image("embedding", html.escape(result.embedding_description)),
        "<h2>Other methods</h2>",
        "".join(image(f"heatmap_{m}", f"{m} heatmap") for m in config.methods if m != method),
        "<h2>Inputs and notes</h2><ul>" + "".join(f"<li><code>{html.escape(i)}</code></li>" for i in inputs) + "</ul>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul>",
        f"<p>Protocol: {html.escape(protocol or 'none')}. Tables: "
        + ", ".join(f"<a href='{n}'>{n}</a>" for n in ("correlations.csv", "partial.csv", "regressions.csv",
                                                        "ranking.csv", "embedding.csv", "notes.txt"))
        + f". Written {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')} by alignjax analyze.</p>",
    ]
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>" \
           f"</head><body>{''.join(sections)}</body></html>\n"
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
