"""Figures of the report (matplotlib, Agg canvas, no pyplot state): a correlation heatmap of every
benchmark at every eps, scatter plots of robust accuracy against the top predictors and against the
aggregate scores (the paper's Figure), predictor bars with bootstrap intervals, and the embedding.

Sizes grow with the content (0.2 inch per heatmap row), so 105 benchmarks stay legible; long names are
shortened in the middle, never overlapped.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from alignjax.analysis.pipeline import AnalysisResult

CATEGORY_COLOURS = {"average": "#555555", "neural": "#1f77b4", "behavioral": "#2ca02c", "engineering": "#9467bd",
                    None: "#bbbbbb"}
EPS_COLOURS = ("#6a0dad", "#228b22", "#ff4500", "#1f77b4", "#8c564b", "#e377c2")  # the paper's first three
SIGNIFICANCE = 0.05
SYMBOLS = {"spearman": "ρ", "pearson": "r", "kendall": "τ"}


def shorten(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[: width // 2 - 1] + "…" + name[-(width // 2 - 1):]


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110)
    return path


def heatmap(result: AnalysisResult, method: str, path: Path) -> Path:
    """Benchmarks (rows, leaderboard order, category bands) x targets (columns); * marks q < 0.05."""
    table = result.correlations.filter(pl.col("method") == method)
    benchmarks = result.data.benchmarks
    targets = result.data.targets.get_column("target").to_list()
    names = benchmarks.get_column("benchmark").to_list()
    lookup = {(b, t): (e, q) for b, t, e, q in table.select("benchmark", "target", "estimate", "q_value").iter_rows()}
    values = np.array([[lookup.get((b, t), (None, None))[0] for t in targets] for b in names], dtype=float)
    rows, columns = values.shape
    figure = Figure(figsize=(4.6 + 1.05 * columns, 1.6 + 0.2 * rows), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    for i, b in enumerate(names):
        for j, t in enumerate(targets):
            estimate, q = lookup.get((b, t), (None, None))
            if estimate is None:
                axes.text(j, i, "–", ha="center", va="center", fontsize=7, color="#999999")
                continue
            star = "*" if q is not None and q < SIGNIFICANCE else ""
            axes.text(j, i, f"{estimate:+.2f}{star}", ha="center", va="center", fontsize=7,
                      color="white" if abs(estimate) > 0.6 else "black")
    categories = benchmarks.get_column("category").to_list()
    leaves = benchmarks.get_column("is_leaf").to_list()
    axes.set_yticks(range(rows), [shorten(n, 64) for n in names], fontsize=7)
    for label, category, leaf in zip(axes.get_yticklabels(), categories, leaves):
        label.set_color(CATEGORY_COLOURS.get(category, "#bbbbbb"))
        if leaf is False:
            label.set_fontweight("bold")
    axes.set_xticks(range(columns), [textwrap.fill(t, 12) for t in targets], fontsize=8)
    axes.xaxis.tick_top()
    for i in range(1, rows):
        if categories[i] != categories[i - 1]:
            axes.axhline(i - 0.5, color="black", linewidth=1.5)
    figure.colorbar(image, ax=axes, shrink=0.6, label=f"{method} correlation", location="bottom", pad=0.01,
                    aspect=40, fraction=min(0.15, 0.6 / (1.6 + 0.2 * rows)))
    axes.set_title(f"{method.capitalize()} correlation with accuracy (bold: aggregates; * q < {SIGNIFICANCE}, BH)\n"
                   "blue: neural · green: behavioral · purple: engineering", fontsize=9)
    return _save(figure, path)


def _robust_targets(result: AnalysisResult) -> list[tuple[int, str]]:
    kinds = result.data.targets.get_column("kind").to_list()
    return [(i, t) for i, (t, k) in enumerate(zip(result.data.targets.get_column("target"), kinds)) if k == "robust"]


def _scatter_panel(axes, x: np.ndarray, result: AnalysisResult, title: str, statistic) -> None:
    for colour, (row, target) in zip(EPS_COLOURS, _robust_targets(result)):
        y = result.data.target_values[row]
        keep = np.isfinite(x) & np.isfinite(y)
        axes.scatter(x[keep], y[keep], s=14, alpha=0.7, color=colour, label=f"{target}: {statistic(target)}")
        if keep.sum() >= 3 and np.ptp(x[keep]) > 0:
            slope, intercept = np.polyfit(x[keep], y[keep], 1)
            grid = np.linspace(x[keep].min(), x[keep].max(), 2)
            axes.plot(grid, intercept + slope * grid, linestyle=":", color=colour)
    axes.set_title(textwrap.fill(title, 38), fontsize=8)
    axes.set_ylabel("robust accuracy (%)", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=6, loc="best", framealpha=0.75)


def _grid(count: int, columns: int = 3, cell: tuple[float, float] = (4.2, 3.4)) -> tuple[Figure, list]:
    rows = max(1, -(-count // columns))
    columns = min(columns, max(count, 1))
    figure = Figure(figsize=(cell[0] * columns, cell[1] * rows), layout="constrained")
    return figure, [figure.add_subplot(rows, columns, i + 1) for i in range(count)]


def top_predictor_scatter(result: AnalysisResult, method: str, top_k: int, path: Path) -> Path:
    """Robust accuracy against the top-k benchmarks of the ranking, one OLS fit per eps."""
    names = result.data.benchmarks.get_column("benchmark").to_list()
    top = result.ranking.filter(pl.col("mean_abs_estimate").is_not_null()).head(top_k).get_column("benchmark").to_list()
    figure, panels = _grid(len(top))
    table = result.correlations.filter(pl.col("method") == method)
    for axes, benchmark in zip(panels, top):
        rows = dict(table.filter(pl.col("benchmark") == benchmark).select("target", "estimate").iter_rows())
        _scatter_panel(axes, result.data.scores[names.index(benchmark)], result, benchmark,
                       lambda t, rows=rows: f"{SYMBOLS[method]}={rows.get(t, float('nan')):+.2f}")
        axes.set_xlabel("benchmark score", fontsize=8)
    figure.suptitle(f"Robust accuracy vs the {len(top)} strongest predictors ({method}); dotted: OLS fit", fontsize=10)
    return _save(figure, path)


def aggregate_scatter(result: AnalysisResult, path: Path) -> Path | None:
    """The paper's Figure: robust accuracy against each aggregate score with R^2 and the F-test p."""
    if result.regressions.height == 0:
        return None
    names = result.data.benchmarks.get_column("benchmark").to_list()
    aggregates = result.regressions.get_column("aggregate").unique(maintain_order=True).to_list()
    figure, panels = _grid(len(aggregates), columns=2)
    for axes, aggregate in zip(panels, aggregates):
        fits = {t: (r2, p) for t, r2, p in result.regressions.filter(pl.col("aggregate") == aggregate)
                .select("target", "r_squared", "f_p_value").iter_rows()}
        _scatter_panel(axes, result.data.scores[names.index(aggregate)], result, aggregate,
                       lambda t, fits=fits: "R²={:.3f}, p={:.2g}".format(*fits.get(t, (float("nan"),) * 2)))
        axes.set_xlabel(f"{aggregate} score", fontsize=8)
    figure.suptitle("Robust accuracy vs aggregate alignment (OLS R², F-test p)", fontsize=10)
    return _save(figure, path)


def predictor_bars(result: AnalysisResult, method: str, count: int, path: Path) -> Path:
    """The top predictors' correlation at each eps with bootstrap intervals (horizontal bars)."""
    top = result.ranking.filter(pl.col("mean_abs_estimate").is_not_null()).head(count).get_column("benchmark").to_list()
    table = result.correlations.filter((pl.col("method") == method) & (pl.col("kind") == "robust"))
    targets = [t for _, t in _robust_targets(result)]
    figure = Figure(figsize=(10, 1.6 + (0.1 + 0.13 * max(len(targets), 1)) * max(len(top), 1)), layout="constrained")
    axes = figure.add_subplot()
    height = 0.8 / max(len(targets), 1)
    for k, (colour, target) in enumerate(zip(EPS_COLOURS, targets)):
        part = {b: (e, lo, hi) for b, e, lo, hi in table.filter(pl.col("target") == target)
                .select("benchmark", "estimate", "ci_low", "ci_high").iter_rows()}
        values = np.array([part.get(b, (None,) * 3) for b in top], dtype=float).reshape(-1, 3)
        positions = np.arange(len(top)) + (k - (len(targets) - 1) / 2) * height
        errors = np.abs(np.vstack([values[:, 0] - values[:, 1], values[:, 2] - values[:, 0]]))
        axes.barh(positions, values[:, 0], height=height, color=colour, alpha=0.8, label=target,
                  xerr=np.nan_to_num(errors), error_kw={"elinewidth": 0.8, "capsize": 2})
    axes.set_yticks(range(len(top)), [shorten(b, 64) for b in top], fontsize=8)
    axes.set_ylim(len(top) - 0.5, -0.5)
    categories = dict(result.ranking.select("benchmark", "category").iter_rows())
    for label, name in zip(axes.get_yticklabels(), top):
        label.set_color(CATEGORY_COLOURS.get(categories.get(name), "#bbbbbb"))
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlim(-1, 1)
    axes.set_xlabel(f"{method} correlation with robust accuracy ({result.correlations.get_column('n').max()} models max; "
                    "bars: bootstrap interval)", fontsize=8)
    figure.legend(*axes.get_legend_handles_labels(), fontsize=8, loc="outside lower center", ncol=max(len(targets), 1),
                  frameon=False)
    axes.set_title(f"Top {len(top)} predictors of robustness by mean |{method}|", fontsize=10)
    return _save(figure, path)


def embedding_plot(result: AnalysisResult, path: Path) -> Path | None:
    frame = result.embedding
    if frame.height == 0:
        return None
    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    axes = figure.add_subplot()
    colour = frame.get_column("colour").fill_null(np.nan).to_numpy()
    cmap = colormaps["coolwarm"]
    finite = np.isfinite(colour)
    norm = Normalize(np.nanmin(colour) if finite.any() else 0, np.nanmax(colour) if finite.any() else 1)
    points = axes.scatter(frame["x"], frame["y"], c=np.where(finite, colour, np.nan), cmap=cmap, norm=norm,
                          s=60, alpha=0.85, edgecolors="black", linewidths=0.4)
    if frame.height <= 40:
        for name, x, y in frame.select("model", "x", "y").iter_rows():
            axes.annotate(shorten(name, 24), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    figure.colorbar(points, ax=axes, label=f"robust accuracy (%), {frame['colour_target'][0]}", fraction=0.05)
    axes.set_title(textwrap.fill(result.embedding_description, 90), fontsize=8)
    axes.set_xticks([])
    axes.set_yticks([])
    return _save(figure, path)
