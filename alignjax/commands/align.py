"""``alignjax align <benchmark>``: alignment benchmarks, one sub-subcommand per module ``align_<name>``."""

from __future__ import annotations

import argparse
import importlib

# modules alignjax.commands.align_<name>, each with register(align_subparsers)
ALIGN_COMMANDS = ("neural",)


def register(subparsers: argparse._SubParsersAction) -> None:
    align = subparsers.add_parser(
        "align",
        help="alignment benchmarks (neural predictivity, ...)",
        description="Score a model's alignment with primate vision.",
    )
    align_subparsers = align.add_subparsers(dest="align_command", required=True)
    for name in ALIGN_COMMANDS:
        importlib.import_module(f"alignjax.commands.align_{name}").register(align_subparsers)
