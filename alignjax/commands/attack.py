"""``alignjax attack``: AutoAttack robust accuracy of a model on a data set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alignjax.attacks.validation import InputError
from alignjax.commands.arguments import non_negative_seconds, parse_arch_option, positive_int, seed

DEFAULT_EPS = {"Linf": 0.1, "L2": 0.5, "L1": 1.0}  # for the embedded digits model


def parse_eps(text: str) -> float:
    """argparse type for eps: '8/255', '0.5/255', '0.031', '1e-3' (``presets.parse_eps``)."""
    from alignjax.attacks.presets import parse_eps as parse

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
    attack.add_argument(
        "--data", type=Path, help="npz with x (floats in [0,1], NHWC unless --layout nchw) and y (int)"
    )
    attack.add_argument("--layout", choices=("nhwc", "nchw"), default="nhwc", help="layout of x in --data")
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
    attack.add_argument("--individual", action="store_true", help="run each attack on all points (diagnosis)")
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
    attack.add_argument("--no-progress", action="store_true", help="no progress bar")
    attack.set_defaults(run=cmd_attack)


def load_npz(path: Path, layout: str) -> tuple[Any, Any]:
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"--data {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "y" not in data:
                raise InputError(f"{path} must hold arrays named 'x' and 'y', found {sorted(data.files)}")
            x, y = data["x"], data["y"]
    except (OSError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"cannot read {path} as npz ({err}); save it with numpy.savez(path, x=..., y=...)"
        ) from None
    if layout == "nchw":
        if x.ndim != 4:
            raise InputError(f"x in {path} must be 4-D, got shape {x.shape}")
        x = np.transpose(x, (0, 2, 3, 1))
    return x, y


def load_arch_weights(arch: str, weights: Path | None, num_classes: int | None, input_shape: tuple[int, ...],
                      arch_options: dict[str, Any] | None = None):
    """(logits_fn, variables, info) for --arch/--weights: a converted file (rebuilt from its record) or a
    PyTorch checkpoint (the architecture's defaults, class count read off the weights)."""
    from alignjax.weights.convert import load_weights_for_arch

    if weights is None:
        raise InputError("--arch needs --weights FILE")
    if not weights.is_file():
        raise FileNotFoundError(f"--weights {weights} does not exist")
    return load_weights_for_arch(weights, arch, num_classes=num_classes, input_shape=tuple(input_shape),
                                 arch_kwargs=arch_options)


def cmd_attack(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from alignjax.attacks.validation import validate_images, validate_labels
    from alignjax.commands import attack_run

    embedded = args.model is None and args.arch is None
    if args.weights is not None and args.arch is None:
        raise InputError("--weights needs --arch NAME (or use --model NAME for a registry model)")
    attack_run.check_model_options(args)
    model_options: dict[str, Any] = {}
    weights_file = args.weights
    if embedded:
        from alignjax.data.digits import digits_split
        from alignjax.models import load_embedded
        from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir

        logits_fn, variables = load_embedded()
        model_desc = "embedded digits CNN (weights/digits_cnn.safetensors)"
        weights_file = bundled_weights_dir() / EMBEDDED_WEIGHTS
    elif args.model is not None:
        from alignjax.weights.convert import load_model

        logits_fn, variables, _spec = load_model(args.model)
        model_desc = args.model
        model_options = {"source": _spec.source, "sha256": _spec.sha256}
    else:
        model_desc = f"{args.arch} from {args.weights}"

    if args.data is not None:
        x, y = load_npz(args.data, args.layout)
        data_desc = str(args.data)
    elif embedded:
        split = digits_split("test")
        x, y = split.x, split.y
        data_desc = "sklearn digits, alignjax fixed test split"
    else:
        raise InputError("give --data FILE.npz with x and y for this model")
    if args.n is not None:
        if args.n < 1:
            raise InputError(f"--n must be positive, got {args.n}")
        x, y = x[: args.n], y[: args.n]
    x = validate_images(x)
    if args.arch is not None:
        logits_fn, variables, model_options = load_arch_weights(
            args.arch, args.weights, args.num_classes, x.shape[1:], dict(args.arch_option))
        for note in model_options.pop("notes"):
            print(f"note: {note}", flush=True)
    eps = args.eps if args.eps is not None else (DEFAULT_EPS[args.norm] if embedded else None)
    if eps is None:
        raise InputError("give --eps (e.g. 8/255 for CIFAR Linf, 0.5 for CIFAR L2, 4/255 for ImageNet Linf)")
    if args.precision != "fp32":
        from alignjax.models.precision import with_compute_dtype

        logits_fn = with_compute_dtype(logits_fn, args.precision)
        model_options = {**model_options, "precision": args.precision}
    n_classes = int(np.asarray(jax.device_get(logits_fn(variables, x[:1]))).shape[-1])
    y = validate_labels(y, len(x), n_classes)  # before anything is written
    attacks = attack_run.attack_configs(args, eps, n_classes)

    out, lock = attack_run.open_output(args)
    try:
        return _run_and_write(args, out, logits_fn, variables, x, y, attacks, eps, model_desc, model_options,
                              weights_file, data_desc)
    finally:
        lock.release()


def _run_and_write(args, out, logits_fn, variables, x, y, attacks, eps, model_desc, model_options,
                   weights_file, data_desc) -> int:
    import jax
    from tqdm import tqdm

    from alignjax.attacks.autoattack import run_autoattack
    from alignjax.attacks.report import write_results
    from alignjax.commands import attack_run

    print(
        f"model: {model_desc}\ndata: {data_desc}, n={len(x)}\n"
        f"AutoAttack {args.version}: {', '.join(a.name for a in attacks)} | norm {args.norm} eps {eps:g} "
        f"| seed {args.seed} | output {out}",
        flush=True,
    )
    bars: dict[str, Any] = {}

    def progress(name: str, done: int, total: int) -> None:
        if args.no_progress:
            return
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = tqdm(total=total, desc=name, unit="pt", leave=False, file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

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
        "model_options": model_options,
        **attack_run.provenance(args, weights_file=weights_file, params=variables, x=x, y=y),
    }
    write_results(out, result, x, y, manifest)
    print(
        f"clean accuracy: {result.clean_accuracy:.2f}%  robust accuracy: {result.robust_accuracy:.2f}%  "
        f"({result.seconds:.1f} s)\nresults: {out}/points.parquet, {out}/summary.json"
    )
    return 0
