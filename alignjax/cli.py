"""Command line: ``alignjax attack | models | convert | ...``. Thin: parse, build configs, call the library.

``alignjax attack`` with no arguments evaluates the embedded digits CNN with standard AutoAttack at
Linf eps 0.1 on the 397 held-out digits. Each subcommand lives in ``alignjax/commands/<name>.py``.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys

from alignjax.attacks.validation import InputError

# subcommand modules under alignjax.commands, in the order `alignjax --help` lists them
COMMANDS = ("attack", "models", "convert", "align")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alignjax", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"alignjax.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (InputError, FileNotFoundError, KeyError, ValueError, pickle.UnpicklingError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"alignjax {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
