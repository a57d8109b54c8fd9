"""``alignjax align <kind>``: alignment benchmarks of a model; one module per kind (``align_<kind>.py``)."""

from __future__ import annotations

import argparse
import importlib

# kinds under alignjax.commands.align_<kind>, in the order `alignjax align --help` lists them
ALIGN_COMMANDS = ("neural", "behavior")


def register(subparsers: argparse._SubParsersAction) -> None:
    align = subparsers.add_parser(
        "align", help="score a model on alignment benchmarks (neural predictivity, behaviour)", description=__doc__.splitlines()[0]
    )
    kinds = align.add_subparsers(dest="align_command", required=True)
    for name in ALIGN_COMMANDS:
        importlib.import_module(f"alignjax.commands.align_{name}").register(kinds)
