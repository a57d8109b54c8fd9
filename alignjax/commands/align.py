"""``alignjax align <kind>``: alignment benchmarks of a model; one module per kind (``align_<kind>.py``)."""

from __future__ import annotations

import argparse
import importlib
from typing import TYPE_CHECKING

from alignjax.errors import InputError

if TYPE_CHECKING:
    from alignjax.loading import LoadedModel

# kinds under alignjax.commands.align_<kind>, in the order `alignjax align --help` lists them
ALIGN_COMMANDS = ("neural", "behavior")


def register(subparsers: argparse._SubParsersAction) -> None:
    align = subparsers.add_parser(
        "align", help="score a model on alignment benchmarks (neural predictivity, behaviour)", description=__doc__.splitlines()[0]
    )
    kinds = align.add_subparsers(dest="align_command", required=True)
    for name in ALIGN_COMMANDS:
        importlib.import_module(f"alignjax.commands.align_{name}").register(kinds)


def load_scored_model(args: argparse.Namespace) -> tuple[LoadedModel, int]:
    """``(LoadedModel, image size)`` of the model an ``align`` command scores: ``--model NAME`` at its own
    input size, or ``--arch`` with ``--weights`` at 224; ``--image-size`` overrides either size."""
    from alignjax.loading import load

    if args.model is not None:
        if args.weights is not None:
            raise InputError("--weights goes with --arch, not --model")
        from alignjax.models import get_model_spec

        spec = get_model_spec(args.model)
        if spec.input_shape[-1] != 3:  # refused before any download
            raise InputError(f"{args.model} takes {spec.input_shape[-1]}-channel images; the alignment "
                             "benchmarks show RGB stimuli (Brain-Score models are RGB)")
        loaded = load(spec)
        return loaded, args.image_size or loaded.input_shape[0]
    size = args.image_size or 224
    return load(arch=args.arch, weights=args.weights, num_classes=args.num_classes,
                input_shape=(size, size, 3)), size
