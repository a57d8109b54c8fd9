"""``alignjax analyze``: which alignment benchmarks predict robustness; statistics, figures, HTML report."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from alignjax.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    analyze = subparsers.add_parser(
        "analyze",
        help="correlate alignment scores with robustness; write figures and an HTML report",
        description="Correlate alignment scores (a Brain-Score leaderboard export and/or long score tables) "
        "with robust accuracy (alignjax attack folders, robustness tables or RobustBench), per benchmark "
        "and eps, with bootstrap intervals, permutation p-values and BH q-values; the paper's OLS of "
        "aggregate scores; a 2-D embedding. Writes PNGs, CSV/parquet tables and index.html to --out.",
    )
    scores = analyze.add_argument_group("alignment scores (at least one)")
    scores.add_argument("--leaderboard", type=Path, action="append", default=[],
                        help="Brain-Score vision leaderboard export (.csv, or the site's .zip)")
    scores.add_argument("--scores", type=Path, action="append", default=[],
                        help="long table: model, benchmark, score [, category, parent, raw, ceiling] (.csv/.parquet)")
    robust = analyze.add_argument_group("robustness (at least one)")
    robust.add_argument("--robustness", type=Path, action="append", default=[],
                        help="long table: model, robust_accuracy [, dataset, norm, eps, version, n, clean_accuracy]; "
                        "a sweep store folder or the paper's evaluation_results.csv also work")
    robust.add_argument("--attack-runs", type=Path, nargs="+", default=[],
                        help="output folders of `alignjax attack` (summary.json + manifest.json)")
    robust.add_argument("--robustbench", metavar="DATASET[/THREAT]",
                        help="RobustBench's published accuracies, e.g. imagenet/Linf (shipped table)")
    analyze.add_argument("--accuracy-unit", choices=("percent", "fraction"), default="percent",
                         help="unit of the accuracies in --robustness tables (default percent)")
    analyze.add_argument("--aliases", type=Path, help="alias table: CSV with columns alias,model (or TOML [aliases])")
    analyze.add_argument("--protocol", default="paper", help="shipped protocol name or a .toml file (default paper)")
    analyze.add_argument("--methods", help="comma-separated: spearman,pearson,kendall (default: the protocol's)")
    analyze.add_argument("--resampled-methods", help="methods that get bootstrap and permutations (default: protocol)")
    analyze.add_argument("--n-bootstrap", type=int, help="bootstrap resamples per pair (0: none)")
    analyze.add_argument("--n-permutations", type=int, help="permutations per pair (0: none)")
    analyze.add_argument("--interval", choices=("percentile", "bca"), help="bootstrap interval kind")
    analyze.add_argument("--seed", type=int, help="seed of the resamples")
    analyze.add_argument("--embedding", choices=("tsne", "pca"), help="2-D embedding method")
    analyze.add_argument("--min-models", type=int, help="fewest complete models for a statistic")
    analyze.add_argument("--top-k", type=int, help="predictors shown in the scatter plots")
    analyze.add_argument("--out", type=Path, required=True, help="output folder")
    analyze.add_argument("--overwrite", action="store_true", help="replace a report already in --out")
    analyze.set_defaults(run=cmd_analyze)


def _methods(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(m.strip() for m in text.split(",") if m.strip())


def configure(args: argparse.Namespace):
    """The protocol with the command line's overrides applied."""
    from alignjax.analysis.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    config = protocol.analysis
    resampling = {k: v for k, v in (("n_bootstrap", args.n_bootstrap), ("n_permutations", args.n_permutations),
                                    ("interval", args.interval), ("seed", args.seed)) if v is not None}
    try:
        config = dataclasses.replace(config, resampling=dataclasses.replace(config.resampling, **resampling))
    except ValueError as err:
        raise InputError(str(err)) from None
    overrides = {k: v for k, v in (("methods", _methods(args.methods)),
                                   ("resampled_methods", _methods(args.resampled_methods)),
                                   ("min_models", args.min_models), ("top_k", args.top_k)) if v is not None}
    if "methods" in overrides:
        chosen = overrides["methods"]
        overrides.setdefault("resampled_methods", tuple(m for m in config.resampled_methods if m in chosen))
        if config.primary_method not in chosen:
            overrides["primary_method"] = chosen[0] if chosen else config.primary_method
    if args.embedding:
        overrides["embedding"] = dataclasses.replace(config.embedding, method=args.embedding)
    return protocol, dataclasses.replace(config, **overrides)


def load_inputs(args: argparse.Namespace):
    """(scores frame, robustness frame, notes, input descriptions)."""
    import polars as pl

    from alignjax.analysis.ingest import read_attack_runs, read_robustness, read_scores
    from alignjax.analysis.leaderboard import read_leaderboard
    from alignjax.analysis.robustbench import SOURCE, robustbench_robustness
    from alignjax.analysis.schemas import ROBUSTNESS_SCHEMA, SCORES_SCHEMA, Ingested

    if not (args.leaderboard or args.scores):
        raise InputError("give alignment scores: --leaderboard FILE (Brain-Score export) and/or --scores FILE")
    if not (args.robustness or args.attack_runs or args.robustbench):
        raise InputError("give robustness: --robustness FILE, --attack-runs DIR..., or --robustbench DATASET/THREAT")
    score_parts = [read_leaderboard(p) for p in args.leaderboard] + [read_scores(p) for p in args.scores]
    robust_parts = [read_robustness(p, accuracy_unit=args.accuracy_unit) for p in args.robustness]
    if args.attack_runs:
        robust_parts.append(read_attack_runs(args.attack_runs))
    if args.robustbench:
        dataset, _, threat = args.robustbench.partition("/")
        robust_parts.append(Ingested(robustbench_robustness(dataset, threat or None), (f"RobustBench ({SOURCE})",)))
    scores = pl.concat([p.frame for p in score_parts]).select(SCORES_SCHEMA.names())
    clashes = scores.filter(pl.struct("model", "benchmark").is_duplicated())
    if clashes.height:
        raise InputError(f"the score inputs disagree: several scores for the same model and benchmark, e.g. "
                         f"{clashes.select('model', 'benchmark', 'source').head(4).rows()}")
    robustness = pl.concat([p.frame for p in robust_parts]).select(ROBUSTNESS_SCHEMA.names())
    notes = [n for part in (*score_parts, *robust_parts) for n in part.notes]
    inputs = [str(p) for p in (*args.leaderboard, *args.scores, *args.robustness, *args.attack_runs)]
    if args.robustbench:
        inputs.append(f"RobustBench {args.robustbench}")
    return scores, robustness, notes, inputs


def cmd_analyze(args: argparse.Namespace) -> int:
    import time

    from alignjax.analysis.aliases import AliasTable
    from alignjax.analysis.dataset import build_data
    from alignjax.analysis.pipeline import run_analysis
    from alignjax.analysis.report import write_report

    if (args.out / "index.html").exists() and not args.overwrite:
        raise InputError(f"{args.out} already holds a report (index.html); choose another --out or pass --overwrite")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} exists and is not a folder")
    protocol, config = configure(args)
    scores, robustness, notes, inputs = load_inputs(args)
    aliases = AliasTable.read(args.aliases) if args.aliases else AliasTable()
    data = build_data(scores, robustness, aliases=aliases, drop_benchmarks=config.drop_benchmarks,
                      min_models=config.min_models)
    data = dataclasses.replace(data, notes=tuple(notes) + data.notes)
    print(f"{len(data.models)} models x {data.scores.shape[0]} benchmarks x {data.target_values.shape[0]} targets; "
          f"methods {', '.join(config.methods)}; {config.resampling.n_bootstrap} bootstrap, "
          f"{config.resampling.n_permutations} permutations", flush=True)
    start = time.perf_counter()
    result = run_analysis(data, config)
    page = write_report(result, args.out, config=config, inputs=inputs, protocol=f"{protocol.name} ({protocol.source})")
    top = result.ranking.head(5).select("benchmark", "mean_estimate").rows()
    print("strongest predictors (mean " + config.primary_method + " over eps): "
          + "; ".join(f"{b} {e:+.2f}" for b, e in top if e is not None))
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {page} ({time.perf_counter() - start:.1f} s)")
    return 0
