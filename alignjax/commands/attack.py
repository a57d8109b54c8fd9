"""``alignjax attack``: AutoAttack robust accuracy of a model on a data set."""

from __future__ import annotations

import argparse
import fractions
import json
import sys
import time
from pathlib import Path
from typing import Any

from alignjax.attacks.validation import InputError

DEFAULT_EPS = {"Linf": 0.1, "L2": 0.5, "L1": 1.0}  # for the embedded digits model


def parse_eps(text: str) -> float:
    """'8/255', '0.031' or '1e-3' -> float > 0."""
    try:
        value = float(fractions.Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"eps must be a number or a fraction like 8/255, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"eps must be > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """'10' -> 10; anything that is not an integer >= 1 is refused."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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
        "--num-classes", type=int, help="classes of --arch (default: from the weights' sidecar, else 10)"
    )
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
        help="comma-separated attack names for --version custom "
        "(apgd-ce, apgd-dlr, fab, square, apgd-t, fab-t)",
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
    attack.add_argument("--n", type=int, help="evaluate the first N points")
    attack.add_argument("--batch-size", type=int, default=500)
    attack.add_argument("--seed", type=int, default=0)
    attack.add_argument("--out", type=Path, help="output folder (default: alignjax-runs/attack-<UTC time>)")
    attack.add_argument("--overwrite", action="store_true", help="replace results already in --out")
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


def load_arch_weights(arch: str, weights: Path | None, num_classes: int | None, input_shape: tuple[int, ...]):
    """(logits_fn, variables) for --arch/--weights: Flax safetensors (params/...) or a PyTorch checkpoint."""
    from alignjax.models import build_architecture
    from alignjax.weights.convert import convert_state_dict, logits_fn_for
    from alignjax.weights.readers import read_state_dict
    from alignjax.weights.strict import check_against_module

    if weights is None:
        raise InputError("--arch needs --weights FILE")
    if not weights.is_file():
        raise FileNotFoundError(f"--weights {weights} does not exist")
    if num_classes is None:
        sidecar = weights.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        num_classes = int(meta.get("arch_kwargs", {}).get("num_classes", "10"))
    module = build_architecture(arch, num_classes=num_classes)
    state = read_state_dict(weights)
    if state and all(k.startswith(("params/", "batch_stats/")) for k in state):
        variables = check_against_module(module, state, input_shape, source=str(weights))
    else:
        variables = convert_state_dict(
            state, arch, input_shape=input_shape, source=str(weights), num_classes=num_classes
        )
    return logits_fn_for(module), variables


def cmd_attack(args: argparse.Namespace) -> int:
    import jax
    import numpy as np
    from tqdm import tqdm

    from alignjax.attacks import presets
    from alignjax.attacks.autoattack import run_autoattack
    from alignjax.attacks.report import prepare_output_dir, write_results
    from alignjax.attacks.validation import validate_images, validate_labels

    embedded = args.model is None and args.arch is None
    if args.weights is not None and args.arch is None:
        raise InputError("--weights needs --arch NAME (or use --model NAME for a registry model)")
    if embedded:
        from alignjax.data.digits import digits_split
        from alignjax.models import load_embedded

        logits_fn, variables = load_embedded()
        model_desc = "embedded digits CNN (weights/digits_cnn.safetensors)"
    elif args.model is not None:
        from alignjax.weights.convert import load_model

        logits_fn, variables, _spec = load_model(args.model)
        model_desc = args.model
    else:
        model_desc = f"{args.arch} from {args.weights}"

    if args.data is not None:
        x, y = load_npz(args.data, args.layout)
        data_desc = str(args.data)
    elif embedded:
        split = digits_split("test")
        x, y = split.x, split.y
        data_desc = "sklearn digits, alignjax fixed test split (397 images)"
    else:
        raise InputError("give --data FILE.npz with x and y for this model")
    if args.n is not None:
        if args.n < 1:
            raise InputError(f"--n must be positive, got {args.n}")
        x, y = x[: args.n], y[: args.n]
    x = validate_images(x)
    if args.arch is not None:
        logits_fn, variables = load_arch_weights(args.arch, args.weights, args.num_classes, x.shape[1:])
    eps = args.eps if args.eps is not None else (DEFAULT_EPS[args.norm] if embedded else None)
    if eps is None:
        raise InputError("give --eps (e.g. 8/255 for CIFAR Linf, 0.5 for CIFAR L2, 4/255 for ImageNet Linf)")
    names = [n.strip() for n in args.attacks.split(",") if n.strip()] if args.attacks else []
    n_classes = int(np.asarray(jax.device_get(logits_fn(variables, x[:1]))).shape[-1])
    y = validate_labels(y, len(x), n_classes)  # before anything is written
    attacks = presets.version_attacks(args.version, args.norm, eps, names=names, n_classes=n_classes)
    attacks = presets.with_budget(
        attacks, n_iter=args.n_iter, n_queries=args.n_queries, n_restarts=args.n_restarts
    )

    out = prepare_output_dir(
        args.out or Path("alignjax-runs") / time.strftime("attack-%Y%m%d-%H%M%S", time.gmtime()),
        overwrite=args.overwrite,
    )
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
    }
    write_results(out, result, x, y, manifest)
    print(
        f"clean accuracy: {result.clean_accuracy:.2f}%  robust accuracy: {result.robust_accuracy:.2f}%  "
        f"({result.seconds:.1f} s)\nresults: {out}/points.parquet, {out}/summary.json"
    )
    return 0
