"""``alignjax convert``: a PyTorch checkpoint to Flax-ready safetensors, without torch."""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import Any

from alignjax.commands.arguments import parse_arch_option, parse_input_shape, positive_int
from alignjax.errors import InputError

DESCRIPTION = """\
Convert a checkpoint (torch.save zip or legacy file, safetensors with PyTorch names, or .npz) into
Flax safetensors for alignjax, without torch: the file is read by a restricted reader that never runs
code from it, its names are mapped to the architecture's Flax variables and every variable is checked
against the architecture. The result records every builder argument (class count, options such as
mean/std, input shape) in its header and in a .json sidecar, so `alignjax attack --arch ARCH
--weights OUT` rebuilds exactly this model."""

EXAMPLES = """\
examples:
  alignjax convert resnet50.pth --arch resnet50 --out resnet50.safetensors
  alignjax convert model_test.pt --arch cifar_resnet18 --out r18.safetensors
  alignjax convert wong2020.pt --arch preact_resnet18 --key state_dict --out w.safetensors \\
      --arch-option 'mean=[0.4914,0.4822,0.4465]' --arch-option 'std=[0.2471,0.2435,0.2616]'
"""


class _HelpWithArchitectures(argparse.Action):
    """``-h``: the usual help plus the registered architectures (imported only when asked for)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = EXAMPLES + "\n" + architecture_listing()
        parser.print_help()
        parser.exit()


def architecture_listing() -> str:
    from alignjax.models import ARCHITECTURES, architecture_input_shape

    names = [f"{name} ({'x'.join(map(str, architecture_input_shape(name)))})"
             for name in sorted(ARCHITECTURES)]
    body = textwrap.fill(", ".join(names), width=100, initial_indent="  ", subsequent_indent="  ")
    return f"architectures (default input height x width x channels):\n{body}\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    convert = subparsers.add_parser(
        "convert", help="convert a PyTorch checkpoint to Flax-ready safetensors (no torch)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False,
    )
    convert.add_argument("-h", "--help", action=_HelpWithArchitectures,
                         help="show this help, the examples and the architecture names, and exit")
    convert.add_argument("checkpoint", type=Path,
                         help="the checkpoint: .pt/.pth/.bin (torch.save), .safetensors or .npz")
    convert.add_argument("--arch", required=True, help="architecture name (listed at the end of --help)")
    convert.add_argument("--out", type=Path, required=True,
                         help="output .safetensors; the sidecar OUT with suffix .json goes next to it")
    convert.add_argument("--num-classes", type=positive_int,
                         help="classes of the classifier (default: read off the checkpoint)")
    convert.add_argument("--input-shape", type=parse_input_shape, metavar="H,W,C",
                         help="input size the weights are checked at (default: the architecture's, "
                         "e.g. 32,32,3 for CIFAR models, 224,224,3 for ImageNet models)")
    convert.add_argument("--arch-option", type=parse_arch_option, action="append", default=[],
                         metavar="NAME=VALUE",
                         help="builder option, VALUE in JSON (e.g. 'mean=[0.5,0.5,0.5]'); repeatable")
    convert.add_argument("--key", help="entry holding the weights in a nested checkpoint, e.g. state_dict "
                         "or ema.model (default: found automatically)")
    convert.add_argument("--overwrite", action="store_true", help="replace OUT and its sidecar if they exist")
    convert.set_defaults(run=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from alignjax.models import ARCHITECTURES
    from alignjax.weights.convert import convert_checkpoint

    if args.arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {args.arch!r}; `alignjax convert --help` lists them")
    if args.out.exists() and not args.overwrite:
        raise InputError(f"{args.out} exists; choose another --out or pass --overwrite")
    if args.checkpoint.is_dir():
        raise InputError(f"checkpoint {args.checkpoint} is a directory; give the checkpoint file inside it")
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {args.checkpoint} does not exist")
    kwargs: dict[str, Any] = dict(args.arch_option)
    if "num_classes" in kwargs:
        raise InputError("give the class count with --num-classes, not --arch-option")
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    start = time.time()
    out = convert_checkpoint(args.checkpoint, args.arch, args.out, key=args.key, input_shape=args.input_shape,
                             **kwargs)
    record = json.loads(out.with_suffix(".json").read_text())
    read_off = " (read off the checkpoint)" if record.get("num_classes_read_off_checkpoint") else ""
    shape = "x".join(map(str, record["input_shape"]))
    print(f"wrote {out} and {out.with_suffix('.json').name}: {args.arch}, {record['num_classes']} "
          f"classes{read_off}, input {shape} ({time.time() - start:.1f} s)")
    return 0
