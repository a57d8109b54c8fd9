"""``alignjax align behavior``: behavioural and engineering benchmarks of one model (Geirhos2021,
Hermann2020, Rajalingham2018 i2n, Baker2022, ImageNet, ImageNet-C), printed and stored in long format."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from alignjax import compilation_cache
from alignjax.errors import InputError

TEXTURE_SHAPE_SETS = ("cue-conflict", "edges", "filled-silhouettes")


def register(kinds: argparse._SubParsersAction) -> None:
    behavior = kinds.add_parser(
        "behavior",
        help="behavioural and engineering benchmarks",
        description=__doc__.replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = behavior.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a named ImageNet model from `alignjax models`")
    src.add_argument("--arch", help="an architecture name; needs --weights")
    behavior.add_argument(
        "--weights", type=Path, help="checkpoint for --arch (.safetensors, .pt/.pth/.bin, .npz)"
    )
    behavior.add_argument("--num-classes", type=int, help="classes of --arch (default: the weights' sidecar)")
    behavior.add_argument(
        "--image-size", type=int, help="square input size (default: the named model's, else 224)"
    )
    behavior.add_argument(
        "--stimuli",
        type=Path,
        help="folder with Geirhos stimuli: texture-vs-shape folders and/or model-vs-human "
        "datasets (default: $ALIGNJAX_CACHE/stimuli, filled by --fetch)",
    )
    behavior.add_argument(
        "--fetch",
        action="store_true",
        help="download and verify cue-conflict, edges and silhouettes into --stimuli first",
    )
    behavior.add_argument(
        "--fetch-modelvshuman",
        metavar="DATASETS",
        help="also download the model-vs-human release of these datasets ('all' or a "
        "comma list, e.g. sketch,stylized) into --stimuli, verified against the human trials",
    )
    behavior.add_argument(
        "--datasets", help="comma list of Geirhos2021 datasets to score (default: all found)"
    )
    behavior.add_argument("--imagenet-val", type=Path, help="ImageNet validation folder: ImageNet-top1")
    behavior.add_argument("--imagenet-labels", type=Path, help="labels CSV for a flat validation folder")
    behavior.add_argument("--imagenet-n", type=int, help="score only the first N validation images")
    behavior.add_argument(
        "--imagenet-c", type=Path, help="ImageNet-C folder (<corruption>/<severity>/<wnid>/)"
    )
    behavior.add_argument(
        "--imagenet-c-sampling",
        type=int,
        default=10,
        help="keep every Nth ImageNet-C image per corruption and severity (Brain-Score: 10)",
    )
    behavior.add_argument(
        "--rajalingham",
        type=Path,
        help="folder of Brain-Score's Rajalingham2018.public files (see --fetch-brainio)",
    )
    behavior.add_argument(
        "--baker",
        type=Path,
        help="folder holding Baker2022_normal_distortion/ and/or Baker2022_inverted_distortion/",
    )
    behavior.add_argument(
        "--fetch-brainio",
        action="store_true",
        help="download (sha1-verified) the public BrainIO files into --rajalingham / --baker",
    )
    behavior.add_argument(
        "--protocol",
        choices=("brainscore", "modelvshuman"),
        default="brainscore",
        help="how stimuli become inputs: Brain-Score (visual-degree placement, square "
        "resize; default) or model-vs-human (images as they are)",
    )
    behavior.add_argument("--batch-size", type=int, default=64)
    behavior.add_argument(
        "--out", type=Path, help="output folder (default: alignjax-runs/behavior-<UTC time>)"
    )
    behavior.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    compilation_cache.add_argument(behavior)
    behavior.set_defaults(run=cmd_align_behavior)


def _load_model(args: argparse.Namespace):
    from alignjax.alignment.behavioral.model_outputs import ImageModel
    from alignjax.commands.align import load_scored_model

    loaded, size = load_scored_model(args)
    name = args.model if args.model is not None else f"{args.arch}:{args.weights.name}"
    return ImageModel(loaded.logits_fn, loaded.variables, size, name)


def _datasets(text: str | None) -> tuple[str, ...] | None:
    from alignjax.alignment.behavioral.geirhos2021 import DATASETS

    if text is None:
        return None
    names = (
        tuple(DATASETS) if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    )
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        raise InputError(f"unknown Geirhos2021 dataset(s) {unknown}; known: {', '.join(DATASETS)}")
    return names


def _fetch(args: argparse.Namespace, stimuli: Path) -> None:
    if args.fetch:
        from alignjax.data.stimuli import fetch_stimuli

        for name in TEXTURE_SHAPE_SETS:
            fetch_stimuli(name, stimuli)
    release = _datasets(args.fetch_modelvshuman)
    if release:
        from alignjax.alignment.behavioral.modelvshuman_release import fetch_modelvshuman

        for name in release:
            fetch_modelvshuman(name, stimuli)
    if args.fetch_brainio:
        from alignjax.alignment.behavioral.brainio_files import fetch_brainio

        if args.rajalingham is None and args.baker is None:
            raise InputError("--fetch-brainio needs --rajalingham DIR and/or --baker DIR to download into")
        if args.rajalingham is not None:
            fetch_brainio("Rajalingham2018.public", args.rajalingham)
        if args.baker is not None:
            for name in ("Baker2022_normal_distortion", "Baker2022_inverted_distortion"):
                fetch_brainio(name, args.baker / name)


def cmd_align_behavior(args: argparse.Namespace) -> int:
    from alignjax.alignment.behavioral import scores
    from alignjax.alignment.behavioral.suite import BehaviorConfig, run_behavior
    from alignjax.attacks.report import environment, prepare_output_dir
    from alignjax.weights.hub import cache_root

    if args.arch is not None and args.weights is None:
        raise InputError("--arch needs --weights FILE")
    if args.batch_size < 1 or (args.image_size is not None and args.image_size < 8):
        raise InputError("--batch-size must be positive and --image-size at least 8")
    others = (args.imagenet_val, args.imagenet_c, args.rajalingham, args.baker)
    stimuli = args.stimuli
    if stimuli is None and (args.fetch or args.fetch_modelvshuman or all(o is None for o in others)):
        stimuli = cache_root() / "stimuli"
    if stimuli is not None:
        _fetch(args, stimuli)
        if not stimuli.is_dir():
            raise FileNotFoundError(
                f"no stimuli at {stimuli}; pass --fetch to download them or --stimuli DIR"
            )
    elif args.fetch_brainio:
        _fetch(args, Path("."))
    config = BehaviorConfig(
        stimuli=stimuli,
        datasets=_datasets(args.datasets),
        imagenet_val=args.imagenet_val,
        imagenet_labels=args.imagenet_labels,
        imagenet_n=args.imagenet_n,
        imagenet_c=args.imagenet_c,
        imagenet_c_sampling=args.imagenet_c_sampling,
        rajalingham=args.rajalingham,
        baker=args.baker,
        protocol=args.protocol,
        batch_size=args.batch_size,
    )
    out = args.out or Path("alignjax-runs") / time.strftime("behavior-%Y%m%d-%H%M%S", time.gmtime())
    if (out / "scores.parquet").exists() and not args.overwrite:
        raise InputError(f"{out} already holds scores.parquet; choose another --out or pass --overwrite")
    compilation_cache.enable_for_command(args)
    model = _load_model(args)
    out = prepare_output_dir(out, overwrite=args.overwrite)
    print(
        f"model: {model.name} (input {model.image_size}px) | protocol {args.protocol} | output {out}",
        flush=True,
    )
    started = time.time()
    result = run_behavior(model, config, log=lambda line: print(line, flush=True))
    table = result.scores
    scores.write(table, out / "scores.parquet")
    if result.decisions.height:
        result.decisions.write_parquet(out / "decisions.parquet")
    manifest = {
        "command": "align behavior",
        "model": model.name,
        "image_size": model.image_size,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()},
        "seconds": time.time() - started,
        "environment": environment(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    print(scores.format_table(table))
    print(
        f"scores: {out}/scores.parquet ({table.height} rows)"
        + (f", decisions: {out}/decisions.parquet" if result.decisions.height else "")
    )
    return 0
