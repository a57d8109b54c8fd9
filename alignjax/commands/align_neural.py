"""``alignjax align neural``: Brain-Score neural predictivity (V1, V2, V4, IT) of a model."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time
from pathlib import Path

from alignjax import compilation_cache
from alignjax.errors import InputError


def register(align_subparsers: argparse._SubParsersAction) -> None:
    neural = align_subparsers.add_parser(
        "neural",
        help="neural predictivity (V1, V2, V4, IT) with Brain-Score's method",
        description="Commit a layer per region on Brain-Score's public benchmarks (FreemanZiemba2013 V1/V2, "
        "MajajHong2015 V4/IT), score it with 25-component PLS over Brain-Score's 10 stratified splits, "
        "and report raw, ceiling and ceiled scores. Data are downloaded once (SHA-1 verified).",
    )
    source = neural.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a named model from `alignjax models`")
    source.add_argument("--arch", help="an architecture name; needs --weights")
    neural.add_argument("--weights", type=Path, help="checkpoint for --arch (.safetensors, .pt/.pth/.bin, .npz)")
    neural.add_argument("--num-classes", type=int, help="classes of --arch (default: weights sidecar, else 10)")
    neural.add_argument("--image-size", type=int, help="input size S (stimuli resized to S x S; default: the "
                        "model's input size, 224 for --arch)")
    neural.add_argument("--regions", default="V1,V2,V4,IT", help="comma-separated regions (default all four)")
    neural.add_argument("--layers", help="comma-separated candidate layers (module paths such as layer4_2; "
                        "default: the model's top-level submodules); --list-layers prints them")
    neural.add_argument("--list-layers", action="store_true", help="print the model's layers and exit")
    neural.add_argument("--pca-images", type=Path, help="folder of ImageNet validation images for Brain-Score's "
                        "PCA of each layer during commitment (default: no PCA)")
    neural.add_argument("--pca-components", type=int, default=1000)
    neural.add_argument("--access", choices=("public", "private"), default="public",
                        help="data for the final score (private needs Brain-Score's files in the cache)")
    neural.add_argument("--normalisation", choices=("2025", "2026"), default="2025",
                        help="ceiled score: 2025 = (r/c)^2 (Brain-Score until Jan 2026, the paper's "
                        "leaderboard; default), 2026 = r^2/c; both are always stored")
    neural.add_argument("--precision", choices=("float64", "float32"), default="float64",
                        help="regression precision (float64 matches scikit-learn to rounding)")
    neural.add_argument("--batch-size", type=int, default=64)
    neural.add_argument("--memory-budget-gb", type=float, default=4.0,
                        help="host memory for activations at once (larger layers are split)")
    neural.add_argument("--data-cache", type=Path, help="BrainIO file cache (default $ALIGNJAX_CACHE/brainio)")
    neural.add_argument("--data-url", help="mirror of Brain-Score's S3 folder (URL or local folder)")
    neural.add_argument("--no-cache", action="store_true", help="recompute the layer commitment")
    neural.add_argument("--out", type=Path, help="output folder (default: alignjax-runs/neural-<UTC time>)")
    neural.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    compilation_cache.add_argument(neural)
    neural.set_defaults(run=cmd_neural)


def _feature_model(args: argparse.Namespace):
    from alignjax.alignment.neural.activations import FeatureModel, module_of
    from alignjax.commands.align import load_scored_model

    loaded, size = load_scored_model(args)
    if args.model is not None:
        name = args.model
    else:
        name = f"{args.arch}@{args.weights.name}:{hashlib.sha256(args.weights.read_bytes()).hexdigest()[:12]}"
    return FeatureModel(name, module_of(loaded.logits_fn), loaded.variables, size)


def _split_list(text: str | None) -> list[str] | None:
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]


def cmd_neural(args: argparse.Namespace) -> int:
    from alignjax.alignment.neural import brainio
    from alignjax.alignment.neural.activations import default_layers
    from alignjax.alignment.neural.model_scoring import ScoringConfig, score_model
    from alignjax.alignment.neural.pls import PLSConfig
    from alignjax.alignment.neural.report import prepare_output_dir, write_results
    from alignjax.attacks.report import environment

    if args.batch_size < 1 or args.memory_budget_gb <= 0 or args.pca_components < 1:
        raise InputError("--batch-size, --memory-budget-gb and --pca-components must be positive")
    compilation_cache.enable_for_command(args)
    model = _feature_model(args)
    if args.list_layers:
        for layer, shape in model.layer_shapes.items():
            print(f"{layer}\t{'x'.join(map(str, shape))}")
        return 0
    layers = _split_list(args.layers)
    if layers is None:  # PLS needs at least n_components features: smaller layers cannot be candidates
        layers = list(default_layers(model, min_features=PLSConfig().n_components))
        skipped = [layer for layer in default_layers(model) if layer not in layers]
        if skipped:
            print(f"skipping layers with fewer than {PLSConfig().n_components} features: {', '.join(skipped)}")
    unknown = [layer for layer in layers if layer not in model.layer_shapes]
    if unknown:
        raise InputError(f"{model.name} has no layer(s) {unknown}; see --list-layers")
    if not layers:
        raise InputError(f"{model.name} has no layer with enough features; pass --layers")
    config = ScoringConfig(regions=tuple(_split_list(args.regions) or ()), access=args.access,
                           normalisation=args.normalisation, pca_components=args.pca_components,
                           memory_budget=int(args.memory_budget_gb * (1 << 30)), batch_size=args.batch_size,
                           dtype=args.precision)
    out = prepare_output_dir(
        args.out or Path("alignjax-runs") / time.strftime("neural-%Y%m%d-%H%M%S", time.gmtime()),
        overwrite=args.overwrite)
    print(f"model: {model.name} ({model.image_size}px) | regions {', '.join(config.regions)} | "
          f"{len(layers)} candidate layers | PCA: {args.pca_images or 'none'} | final data: {args.access} | "
          f"output {out}", flush=True)
    started = time.time()
    result = score_model(model, layers, config=config, pca_images=args.pca_images, data_cache=args.data_cache,
                         base_url=args.data_url,
                         commitment_cache=None if args.no_cache else brainio.cache_dir(args.data_cache).parent
                         / "layer_commitments",
                         log=lambda line: print(line, flush=True))
    header = f"{'region':<6} {'benchmark':<34} {'layer':<16} {'raw':>13} {'ceiling':>7} {'(r/c)^2':>8} {'r^2/c':>7}"
    print(header)
    for region, score in result.scores.items():
        print(f"{region:<6} {score.benchmark:<34} {score.layer:<16} {score.raw:>6.3f}+-{score.raw_error:<5.3f} "
              f"{score.ceiling:>7.3f} {score.ceiled['2025']:>8.3f} {score.ceiled['2026']:>7.3f}")
    manifest = {"command": "align neural", "model": model.name, "image_size": model.image_size,
                "layers": layers, "config": dataclasses.asdict(config),
                "pca_images": str(args.pca_images) if args.pca_images else None,
                "seconds": time.time() - started, **environment()}
    write_results(out, model.name, result.scores, result.commitment.scores, result.commitment.layers, manifest,
                  normalisation=args.normalisation)
    print(f"normalised score = {'(r/c)^2' if args.normalisation == '2025' else 'r^2/c'}; results: "
          f"{out}/scores.parquet, {out}/layer_scores.parquet, {out}/summary.json")
    return 0
