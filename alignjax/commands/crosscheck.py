"""``alignjax crosscheck``: the same AutoAttack evaluation in alignjax and in the PyTorch reference, compared."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from alignjax import compilation_cache
from alignjax.commands.attack import DEFAULT_EPS, parse_eps
from alignjax.errors import InputError

RULE = """\
exit status: 0 when both sides agree, 1 when they disagree, 2 on bad input. They disagree when
  (1) the clean predictions differ on more than --clean-tolerance percent of the points, or
  (2) the robust accuracies differ by more than --tolerance percentage points AND McNemar's exact
      test on the per-point outcomes gives p < --alpha (the difference exceeds attack randomness), or
  (3) with --published, a published accuracy lies outside the (1 - alpha) Clopper-Pearson interval
      of the accuracy measured on these n points (taken as a random sample of the test set).
reference models: --reference native runs the architecture's own torch code on the original
  checkpoint (checks conversion and attacks): the embedded digits CNN (its torch twin),
  cifar_resnet18 (pyautoattack's examples/resnet.py) and timm's resnet18/34/50/101/152,
  wide_resnet50_2, vit_*, deit_*, convnext_*; --reference bridge runs pyautoattack's attacks on the
  alignjax model through a torch<->JAX autograd bridge (any architecture or named model; checks the
  attacks only). auto: native where possible, else bridge; none: alignjax (and --published) only."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "crosscheck",
        help="compare alignjax's AutoAttack with the PyTorch reference (pyautoattack) on the same points",
        description="Run the same AutoAttack evaluation in alignjax and in pyautoattack 0.2.0 "
        "(= fra31/auto-attack@a392200; optional extra: pip install 'alignjax[crosscheck]') and compare "
        "them point by point, and/or with a published figure. With no arguments: the embedded digits CNN.",
        epilog=RULE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--model", help="a named model from `alignjax models`")
    src.add_argument("--arch", help="an architecture name; needs --weights")
    parser.add_argument("--weights", type=Path, help="checkpoint for --arch (.pt/.pth/.bin, .safetensors, .npz)")
    parser.add_argument("--num-classes", type=int, help="classes of --arch (default: from the weights)")
    parser.add_argument("--data", type=Path, help="npz with x (floats in [0,1], NHWC unless --layout nchw), y")
    parser.add_argument("--layout", choices=("nhwc", "nchw"), default="nhwc")
    parser.add_argument("--norm", choices=("Linf", "L2", "L1"), default="Linf")
    parser.add_argument("--eps", type=parse_eps, help="radius, e.g. 8/255 (embedded model: Linf 0.1, L2 0.5, L1 1)")
    parser.add_argument("--version", choices=("standard", "plus", "rand", "custom", "paper"), default="standard")
    parser.add_argument("--attacks", help="comma-separated attack names for --version custom")
    parser.add_argument("--n", type=int, help="evaluate the first N points")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="alignjax's PRNG seed and the reference's torch seed")
    budgets = parser.add_argument_group("reduced budgets (both sides; the result is then not AutoAttack)")
    budgets.add_argument("--n-iter", type=int, help="iterations of APGD and FAB")
    budgets.add_argument("--n-restarts", type=int, help="restarts of APGD-CE/DLR and untargeted FAB")
    budgets.add_argument("--n-target-classes", type=int, help="target classes of APGD-T and FAB-T")
    budgets.add_argument("--n-queries", type=int, help="queries of Square")
    parser.add_argument("--reference", choices=("auto", "native", "bridge", "none"), default="auto")
    parser.add_argument("--reference-eps", type=parse_eps,
                        help="run the reference at another radius (e.g. a published 0.031 vs 8/255; "
                        "or to see the gate catch a mismatch)")
    parser.add_argument("--published", nargs="?", const="registry", metavar="ROBUST",
                        help="compare with a published robust accuracy in percent; without a value, the "
                        "registry's (RobustBench model_info) clean and AutoAttack accuracies of --model")
    parser.add_argument("--published-clean", type=float, metavar="CLEAN", help="a published clean accuracy (%%)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="robust accuracy tolerance, pp (default 1)")
    parser.add_argument("--alpha", type=float, default=0.01, help="significance level (default 0.01)")
    parser.add_argument("--clean-tolerance", type=float, default=0.1,
                        help="percent of points whose clean predictions may differ (default 0.1)")
    parser.add_argument("--out", type=Path, help="output folder (default: alignjax-runs/crosscheck-<UTC time>)")
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    compilation_cache.add_argument(parser)
    parser.set_defaults(run=cmd_crosscheck)


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, dict[str, str], Any]:
    """(logits_fn, variables, x, y, description, spec) for the model and data the arguments name."""
    from alignjax.attacks.validation import validate_images

    embedded = args.model is None and args.arch is None
    if args.weights is not None and args.arch is None:
        raise InputError("--weights needs --arch NAME (or use --model NAME for a registry model)")
    if args.data is not None:
        from alignjax.data.npz import load_npz

        dataset = load_npz(args.data, layout=args.layout)  # length, dtype and layout checked here
        x, y, data = dataset.x, dataset.y, str(args.data)
        if x.dtype.kind == "u":  # uint8 arrays in 0..255
            x = x.astype("float32") / 255.0
    elif embedded:
        from alignjax.data.digits import digits_split

        split = digits_split("test")
        x, y, data = split.x, split.y, "sklearn digits, alignjax fixed test split"
    else:
        raise InputError("give --data FILE.npz with x and y for this model")
    if args.n is not None:
        if args.n < 1:
            raise InputError(f"--n must be positive, got {args.n}")
        x, y = x[: args.n], y[: args.n]
    x = validate_images(x)
    from alignjax.loading import load

    if args.arch is None:
        loaded = load(args.model)
    else:
        loaded = load(arch=args.arch, weights=args.weights, num_classes=args.num_classes, input_shape=x.shape[1:])
    return loaded.logits_fn, loaded.variables, x, y, {"model": loaded.description, "data": data}, loaded.spec


def _reference_spec(args, logits_fn, variables, n_classes: int, reference_eps: float | None):
    from alignjax.crosscheck import torch_models
    from alignjax.crosscheck.compare import ReferenceSpec
    from alignjax.crosscheck.reference import require_reference

    require_reference()
    import torch

    embedded = args.model is None and args.arch is None
    arch = "small_cnn" if embedded else args.arch
    kind = args.reference
    if kind == "auto":
        native = arch in torch_models.NATIVE_ARCHITECTURES and _is_torch_checkpoint(args, embedded)
        if native and arch in torch_models.TIMM_ARCHITECTURES and torch_models.import_timm() is None:
            print(f"reference: timm does not import here, so pyautoattack runs on the alignjax {arch} through "
                  "the bridge (the conversion is not cross-checked)")
            native = False
        kind = "native" if native else "bridge"
    if kind == "bridge":
        return ReferenceSpec(model=torch_models.bridge_model(logits_fn, variables, seed=args.seed), kind="bridge",
                             description="the alignjax model through a torch autograd bridge", eps=reference_eps)
    if args.model is not None:
        raise InputError("named models have no native torch model here; use --reference bridge (or auto)")
    module = torch_models.module_of(logits_fn)
    if module is None:
        from alignjax.models import build_architecture

        module = build_architecture(arch, num_classes=n_classes)
    device = "cuda" if torch.cuda.is_available() and arch != "small_cnn" else "cpu"
    model = torch_models.native_model(arch, module, variables, None if embedded else args.weights).to(device)
    what = {"small_cnn": "DigitsCNN (torch twin) holding the same weights",
            "cifar_resnet18": f"pyautoattack.examples.resnet.ResNet18 loading {args.weights}"}
    return ReferenceSpec(model=model, kind="native", eps=reference_eps, device=device,
                         description=what.get(arch, f"timm {arch} loading {args.weights}"))


def _is_torch_checkpoint(args, embedded: bool) -> bool:
    if embedded or args.arch == "small_cnn":
        return True
    from alignjax.weights.readers import read_state_dict

    state = read_state_dict(args.weights)
    return not all(k.startswith(("params/", "batch_stats/")) for k in state)


def _published(args, spec, norm: str, eps: float):
    from alignjax.crosscheck.compare import Published

    if args.published is None and args.published_clean is None:
        return None
    if args.published == "registry":
        if spec is None:
            raise InputError("--published without a value needs --model NAME from `alignjax models`; "
                             "otherwise give the number, e.g. --published 59.53")
        robust = spec.expected_robust_acc
        if robust is None and spec.expected_clean_acc is None:
            raise InputError(f"{spec.name} has no published accuracies in the registry; give --published ROBUST")
        if robust is not None and (robust.norm != norm or abs(robust.eps - eps) > 1e-9):
            raise InputError(f"{spec.name}'s published figure is for {robust.norm} eps {robust.eps_text}; run with "
                             f"--norm {robust.norm} --eps {robust.eps_text} to compare with it")
        clean = args.published_clean if args.published_clean is not None else spec.expected_clean_acc
        return Published(robust=None if robust is None else robust.accuracy, clean=clean,
                         source="registry: RobustBench model_info" if robust is not None else "registry")
    try:
        value = None if args.published is None else float(args.published)
    except ValueError:
        raise InputError(f"--published takes a robust accuracy in percent (e.g. 59.53), got {args.published!r}") \
            from None
    return Published(robust=value, clean=args.published_clean, source="given")


def _prepare_out(out: Path | None, overwrite: bool) -> Path:
    from alignjax.crosscheck.report import RESULT_FILES

    out = out or Path("alignjax-runs") / time.strftime("crosscheck-%Y%m%d-%H%M%S", time.gmtime())
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder; choose another path")
    if (out / "summary.json").exists():
        if not overwrite:
            raise InputError(f"{out} already holds results (summary.json); choose another --out or pass --overwrite")
        for name in RESULT_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def cmd_crosscheck(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from alignjax.attacks import presets
    from alignjax.attacks.validation import validate_labels
    from alignjax.crosscheck.compare import crosscheck
    from alignjax.crosscheck.reference import reference_available
    from alignjax.crosscheck.report import write_report
    from alignjax.crosscheck.settings import Budgets, reduce_budgets
    from alignjax.crosscheck.statistics import Tolerance

    budgets = Budgets(n_iter=args.n_iter, n_restarts=args.n_restarts, n_target_classes=args.n_target_classes,
                      n_queries=args.n_queries)
    tolerance = Tolerance(tolerance=args.tolerance, alpha=args.alpha, clean_tolerance=args.clean_tolerance)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {args.batch_size}")
    compilation_cache.enable_for_command(args)
    logits_fn, variables, x, y, description, spec = _load(args)
    embedded = args.model is None and args.arch is None
    eps = args.eps if args.eps is not None else (DEFAULT_EPS[args.norm] if embedded else None)
    if eps is None:
        raise InputError("give --eps (e.g. 8/255 for CIFAR Linf, 0.5 for CIFAR L2, 4/255 for ImageNet Linf)")
    n_classes = int(np.asarray(jax.device_get(logits_fn(variables, x[:1]))).shape[-1])
    y = validate_labels(y, len(x), n_classes)
    names = [name.strip() for name in args.attacks.split(",") if name.strip()] if args.attacks else []
    attacks = reduce_budgets(presets.version_attacks(args.version, args.norm, eps, names=names,
                                                     n_classes=n_classes), budgets)
    published = _published(args, spec, args.norm, eps)
    if args.reference == "none" or (args.reference == "auto" and not reference_available() and published):
        if published is None:
            raise InputError("--reference none leaves nothing to compare: add --published")
        if args.reference_eps is not None:
            raise InputError("--reference-eps needs a reference run (install the crosscheck extra, drop --reference none)")
        reference = None
        if args.reference == "auto":
            print("reference skipped: torch/pyautoattack are not installed (pip install 'alignjax[crosscheck]')")
    else:
        reference = _reference_spec(args, logits_fn, variables, n_classes, args.reference_eps)
    if published is not None:
        description["published_source"] = published.source
    out = _prepare_out(args.out, args.overwrite)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    result = crosscheck(logits_fn, variables, x, y, attacks=attacks, version=args.version, seed=args.seed,
                        batch_size=args.batch_size, reference=reference, budgets=budgets, published=published,
                        tolerance=tolerance, log=log)
    print(write_report(out, result, description))
    print(f"results: {out}/points.parquet, {out}/summary.json, {out}/summary.txt")
    return 0 if result.verdict.agrees else 1
