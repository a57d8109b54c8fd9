"""``alignjax convert``: a PyTorch checkpoint to Flax-ready safetensors, without torch."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from alignjax.attacks.validation import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    convert = subparsers.add_parser(
        "convert", help="convert a PyTorch checkpoint to Flax-ready safetensors (no torch)"
    )
    convert.add_argument("checkpoint", type=Path)
    convert.add_argument("--arch", required=True)
    convert.add_argument("--out", type=Path, required=True)
    convert.add_argument("--num-classes", type=int)
    convert.add_argument(
        "--input-shape",
        help="H,W,C for the shape check (default: from a registered model "
        "of the architecture, else 224,224,3)",
    )
    convert.add_argument("--overwrite", action="store_true")
    convert.set_defaults(run=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from alignjax.weights.convert import convert_checkpoint

    if args.out.exists() and not args.overwrite:
        raise InputError(f"{args.out} exists; choose another --out or pass --overwrite")
    kwargs: dict[str, Any] = {"num_classes": args.num_classes} if args.num_classes else {}
    if args.input_shape:
        try:
            kwargs["input_shape"] = tuple(int(v) for v in args.input_shape.split(","))
        except ValueError:
            raise InputError(f"--input-shape must look like 32,32,3, got {args.input_shape!r}") from None
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {args.checkpoint} does not exist")
    start = time.time()
    convert_checkpoint(args.checkpoint, args.arch, args.out, **kwargs)
    print(f"wrote {args.out} ({time.time() - start:.1f} s)")
    return 0
