"""``alignjax attack``: AutoAttack robust accuracy of a model on a data set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alignjax import compilation_cache
from alignjax.commands.arguments import non_negative_seconds, parse_arch_option, positive_int, seed
from alignjax.errors import InputError

DEFAULT_EPS = {"Linf": 0.1, "L2": 0.5, "L1": 1.0}  # for the embedded digits model


def parse_eps(text: str) -> float:
    """argparse type for eps: '8/255', '0.5/255', '0.031', '1e-3' (``alignjax.eps``, which imports no jax)."""
    from alignjax.eps import parse_eps as parse

    try:
        return parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    attack = subparsers.add_parser(
        "attack",
        help="evaluate robust accuracy with AutoAttack",
        description="Evaluate a model with AutoAttack. With no arguments: the embedded "
        "digits CNN, standard version, Linf eps 0.1, 397 test digits.",
    )
    src = attack.add_mutually_exclusive_group()
    src.add_argument("--model", help="a named model from `alignjax models` (downloaded through the hub)")
    src.add_argument("--arch", help="an architecture name; needs --weights")
    attack.add_argument(
        "--weights", type=Path, help="checkpoint for --arch (.safetensors, .pt/.pth/.bin, .npz)"
    )
    attack.add_argument(
        "--num-classes", type=positive_int,
        help="classes of --arch (default: from the weights' alignjax record, else read off the weights)"
    )
    attack.add_argument("--arch-option", type=parse_arch_option, action="append", default=[],
                        metavar="NAME=VALUE", help="builder option of --arch, VALUE in JSON; repeatable")
    add_data_arguments(attack)
    attack.add_argument("--norm", choices=("Linf", "L2", "L1"), default="Linf")
    attack.add_argument(
        "--eps",
        type=parse_eps,
        help="radius, e.g. 8/255 (default for the embedded model: Linf 0.1, L2 0.5, L1 1.0)",
    )
    attack.add_argument(
        "--version", choices=("standard", "plus", "rand", "custom", "paper"), default="standard"
    )
    attack.add_argument(
        "--attacks",
        help="comma-separated attack names for --version custom (apgd-ce, apgd-dlr, fab, square, apgd-t, "
        "fab-t), each optionally with settings, e.g. 'apgd-ce(n_iter=20),square(n_queries=500)'; an attack "
        "listed twice is run and reported twice",
    )
    budget = attack.add_argument_group(
        "reduced budgets",
        "override the version's iterations for quick runs and CI (not the reference's numbers); "
        "the manifest records the configs that ran",
    )
    budget.add_argument(
        "--n-iter", type=positive_int, metavar="N", help="iterations of APGD and FAB (default: the version's)"
    )
    budget.add_argument(
        "--n-queries", type=positive_int, metavar="N", help="queries of Square (default: the version's, 5000)"
    )
    budget.add_argument(
        "--n-restarts",
        type=positive_int,
        metavar="N",
        help="restarts of each attack (default: the version's)",
    )
    attack.add_argument("--individual", action="store_true", help="run each attack on all points (diagnosis)")
    attack.add_argument("--final-draws", type=positive_int, default=None, metavar="K",
                        help="stochastic models: forward draws behind each clean and final verdict, robust only "
                        "if right on a majority (default 20; 1 reproduces the reference); ignored for "
                        "deterministic models")
    attack.add_argument("--n", type=int, help="evaluate the first N points")
    attack.add_argument("--batch-size", type=positive_int, default=500)
    attack.add_argument("--seed", type=seed, default=0, help="0 .. 2**32-1 (default 0)")
    attack.add_argument("--out", type=Path,
                        help="output folder (default: a new alignjax-runs/attack-<UTC time>-<random>); "
                        "one run at a time may use it")
    attack.add_argument("--overwrite", action="store_true",
                        help="replace results and any interrupted state already in --out")
    attack.add_argument("--checkpoint-seconds", type=non_negative_seconds, default=30.0,
                        help="save the resumable state in --out/state at most this often within an attack "
                        "(default 30; 0: after every batch); it is always saved after each attack")
    attack.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="the model's compute dtype; the attacks' arithmetic stays float32 (bf16: faster on "
                             "GPUs/TPUs, robust accuracy to be checked against fp32)")
    attack.add_argument("--no-checks", action="store_true", help="skip the reference's sanity checks")
    attack.add_argument("--no-progress", action="store_true",
                        help="no progress (a bar on a terminal, plain lines otherwise)")
    compilation_cache.add_argument(attack)
    attack.set_defaults(run=cmd_attack)


def add_data_arguments(attack: argparse.ArgumentParser) -> None:
    """--data SOURCE and how to read it (alignjax.data.sources, alignjax.data.named_preprocessing)."""
    from alignjax.data.named_preprocessing import PREPROCESSING_NAMES
    from alignjax.data.sources import FORMATS

    data = attack.add_argument_group("data (README section 'Data')")
    data.add_argument(
        "--data",
        help="an .npz (x uint8 or float in [0,1], y int), an image folder (class subfolders, or flat with "
        "--labels), an ImageNet validation folder (wnid subfolders, flat with --labels, or --subset "
        "robustbench), a CIFAR-10/100 python-version folder, a .parquet file or folder (HF datasets "
        "format), or hf://datasets/OWNER/NAME[@REVISION]",
    )
    data.add_argument("--data-format", choices=FORMATS, default="auto",
                      help="force a reader; 'folder' numbers class subfolders 0..k-1 even if they are wnids")
    data.add_argument("--labels", type=Path, help="CSV (file,label) for a flat folder: integer labels or wnids")
    data.add_argument("--subset", choices=("robustbench",), help="ImageNet: RobustBench's fixed 5000 images")
    data.add_argument("--split", default="test", help="CIFAR/parquet split (default: test)")
    data.add_argument("--label-column", help="parquet label column (default: label, fine_label, ...)")
    data.add_argument("--layout", choices=("nhwc", "nchw"), default="nhwc", help="layout of x in an .npz")
    data.add_argument(
        "--preprocessing",
        choices=tuple(PREPROCESSING_NAMES),
        metavar="NAME",
        help="input protocol: " + "; ".join(f"{k}: {v}" for k, v in PREPROCESSING_NAMES.items())
        + " (default: 'model' with --model, else 'none')",
    )
    data.add_argument("--decode-threads", type=int, default=2, help="image decoding threads (default 2)")


def load_data(args: argparse.Namespace, spec: Any, embedded: bool) -> Any:
    """The images and labels to attack (``alignjax.data.attack_input.AttackData``): the whole source is
    checked before ``--n`` keeps its first points; files are streamed, not loaded."""
    from alignjax.data.arrays import ArrayDataset, first_n
    from alignjax.data.attack_input import prepare_for_attack
    from alignjax.data.sources import open_dataset

    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    if args.decode_threads < 1:
        raise InputError(f"--decode-threads must be positive, got {args.decode_threads}")
    if args.data is not None:
        dataset = open_dataset(
            args.data, format=args.data_format, labels=args.labels, subset=args.subset, split=args.split,
            layout=args.layout, label_column=args.label_column, n=args.n,
        )
    elif embedded:
        from alignjax.data.digits import digits_split

        test = digits_split("test")
        dataset = first_n(ArrayDataset(test.x, test.y, "sklearn digits, alignjax fixed test split"), args.n)
    else:
        raise InputError("give --data SOURCE for this model (an .npz, an image folder, ImageNet, CIFAR, parquet)")
    shape = _model_input_shape(args, spec, embedded)
    return prepare_for_attack(
        dataset, preprocessing=args.preprocessing, spec=spec, num_threads=args.decode_threads,
        channels=shape[-1] if shape is not None and shape[-1] in (1, 3) else 3,
        image_size=shape[0] if shape is not None else None,
    )


def _model_input_shape(args: argparse.Namespace, spec: Any, embedded: bool) -> tuple[int, ...] | None:
    """(h, w, c) the model takes, known before its weights are read: image files are decoded with its
    channel count (grayscale for the embedded digits CNN) and 'brainscore' resizes to its size."""
    if spec is not None:
        return tuple(spec.input_shape)
    if embedded:
        return (8, 8, 1)
    from alignjax.models.registry import ARCHITECTURES, architecture_input_shape

    return tuple(architecture_input_shape(args.arch)) if args.arch in ARCHITECTURES else None


def probe_num_classes(logits_fn: Any, variables: Any, first: Any, spec: Any, preprocessing: str) -> int:
    """The model's number of outputs, from one forward pass on the first image; images the model
    cannot take (size, channels) are refused with the preprocessing to choose."""
    import jax
    import numpy as np
    from flax.errors import FlaxError

    shape = tuple(first.shape[1:])
    hint = f"after preprocessing {preprocessing!r}; choose --preprocessing (or --layout) to match"
    if spec is not None and shape != tuple(spec.input_shape):
        raise InputError(f"the images are {shape} {hint} {spec.name}'s input {tuple(spec.input_shape)}")
    try:
        logits = np.asarray(jax.device_get(logits_fn(variables, first)))
    except (FlaxError, ValueError, TypeError) as error:  # flax parameter shapes, XLA dot/conv shapes
        raise InputError(
            f"the model cannot take images of shape {shape} {hint} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]})"
        ) from None
    return int(logits.shape[-1])


def cmd_attack(args: argparse.Namespace) -> int:
    from alignjax.attacks.images import as_attack_images, first_rows
    from alignjax.attacks.validation import validate_labels
    from alignjax.commands import attack_run
    from alignjax.data.arrays import check_fits_model
    from alignjax.loading import load

    embedded = args.model is None and args.arch is None
    if args.weights is not None and args.arch is None:
        raise InputError("--weights needs --arch NAME (or use --model NAME for a registry model)")
    attack_run.check_model_options(args)
    compilation_cache.enable_for_command(args)
    loaded = load(args.model) if args.arch is None else None
    spec = None if loaded is None else loaded.spec

    data = load_data(args, spec, embedded)
    x, y, data_desc = as_attack_images(data.images), data.labels, data.description
    if loaded is None:
        loaded = load(arch=args.arch, weights=args.weights, num_classes=args.num_classes,
                      input_shape=x.image_shape, arch_options=dict(args.arch_option))
    for note in loaded.notes:
        print(f"note: {note}", flush=True)
    logits_fn, variables, model_desc = loaded.logits_fn, loaded.variables, loaded.description
    model_options, weights_file = dict(loaded.options), loaded.weights_file
    eps = args.eps if args.eps is not None else (DEFAULT_EPS[args.norm] if embedded else None)
    if eps is None:
        raise InputError("give --eps (e.g. 8/255 for CIFAR Linf, 0.5 for CIFAR L2, 4/255 for ImageNet Linf)")
    if args.precision != "fp32":
        from alignjax.models.precision import with_compute_dtype

        logits_fn = with_compute_dtype(logits_fn, args.precision)
        model_options = {**model_options, "precision": args.precision}
    n_classes = probe_num_classes(logits_fn, variables, first_rows(x, 1), spec, data.preprocessing)
    check_fits_model(data.dataset, n_classes)  # labels and class mapping, before anything is written
    y = validate_labels(y, len(x), n_classes)
    attacks = attack_run.attack_configs(args, eps, n_classes)

    out, lock = attack_run.open_output(args)
    try:
        return _run_and_write(args, out, logits_fn, variables, x, y, attacks, eps, model_desc, model_options,
                              weights_file, data_desc)
    finally:
        attack_run.release_output(lock)  # the lock file goes too: a finished folder holds only results


def _run_and_write(args, out, logits_fn, variables, x, y, attacks, eps, model_desc, model_options,
                   weights_file, data_desc) -> int:
    import jax

    from alignjax.attacks.engine.cascade import DEFAULT_FINAL_DRAWS, attack_labels, run_autoattack
    from alignjax.attacks.report import write_results
    from alignjax.commands import attack_run
    from alignjax.progress import CascadeProgress

    print(
        f"model: {model_desc}\ndata: {data_desc}, n={len(x)}\n"
        f"AutoAttack {args.version}: {', '.join(attack_labels(attacks))} | norm {args.norm} eps {eps:g} "
        f"| seed {args.seed} | output {out}",
        flush=True,
    )
    progress = None if args.no_progress else CascadeProgress(sys.stderr)
    final_draws = DEFAULT_FINAL_DRAWS if args.final_draws is None else args.final_draws

    result = run_autoattack(
        logits_fn,
        variables,
        x,
        y,
        attacks=attacks,
        key=jax.random.key(args.seed),
        batch_size=args.batch_size,
        individual=args.individual,
        state_dir=out / "state",
        progress=progress,
        log=lambda line: print(line, flush=True),
        run_checks=not args.no_checks,
        checkpoint_seconds=args.checkpoint_seconds,
        state_identity=attack_run.run_identity_extras(args, model_desc, model_options),
        final_draws=final_draws,
    )
    manifest = {
        "command": "attack",
        "model": model_desc,
        "data": data_desc,
        "n": len(x),
        "norm": args.norm,
        "eps": eps,
        "version": args.version,
        "attacks": [repr(a) for a in attacks],
        "seed": args.seed,
        "batch_size": args.batch_size,
        "individual": args.individual,
        "final_draws": result.final_draws,
        "model_options": model_options,
        "compilation_cache": compilation_cache.manifest_entry(),
        **attack_run.provenance(args, weights_file=weights_file, params=variables, x=x, y=y),
    }
    write_results(out, result, y, manifest)
    print(
        f"clean accuracy: {result.clean_accuracy:.2f}%  robust accuracy: {result.robust_accuracy:.2f}%  "
        f"({result.seconds:.1f} s)\nresults: {out}/points.parquet, {out}/summary.json, {out}/manifest.json"
    )
    return 0
