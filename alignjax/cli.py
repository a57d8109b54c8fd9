"""The ``alignjax`` command: parse the arguments and dispatch to ``alignjax/commands/<name>.py``.

Each subcommand module has ``register(subparsers)`` and a ``run(args) -> int`` set as the parser's
default. Errors meant for users (``InputError``, ``ValueError``, ``FileNotFoundError``, refused
pickles) are printed as one line and exit 2; a closed output pipe (``alignjax models --json | head``)
ends quietly.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pickle
import sys

import alignjax
from alignjax.errors import InputError
from alignjax.weights.download import DownloadError

# subcommand modules under alignjax.commands, in the order `alignjax --help` lists them
COMMANDS = ("attack", "models", "convert", "align", "analyze", "sweep", "results", "crosscheck")

DESCRIPTION = """\
alignjax: AutoAttack robustness of vision models in JAX, torch-free checkpoint conversion and a model
zoo, for the question of arXiv 2502.12377: are models that align better with human vision also more
robust to adversarial attack?"""

EPILOG = """\
examples:
  alignjax attack                          the embedded digits CNN, standard AutoAttack, Linf eps 0.1
  alignjax attack --arch cifar_resnet18 --weights model.pt --data cifar10.npz --eps 8/255
  alignjax models                          the named models of the registry
  alignjax convert model.pth --arch resnet50 --out resnet50.safetensors

`alignjax COMMAND --help` describes each command."""

SIGPIPE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alignjax", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"alignjax {alignjax.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"alignjax.commands.{name}").register(sub)
    for command in sub.choices.values():  # its own parser reports what it does not know (parse_arguments)
        command.set_defaults(command_parser=command)
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, except that arguments the command does not know are refused by that
    command's parser: ``alignjax attack: error: unrecognized arguments: ...`` like every other error of
    the command, not ``alignjax: error:``."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop writing, with no traceback at exit either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return SIGPIPE_EXIT


_OS_HINTS = {
    errno.ENOSPC: "the disk is full; free space and run the same command again (it resumes)",
    errno.EFBIG: "the file grew beyond the size this system allows; free space or raise the limit and run "
                 "the same command again (it resumes)",
    errno.EROFS: "the file system is read-only; choose a writable --out",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
    errno.EACCES: "permission denied; choose a path you can write to",
    errno.EPERM: "the system does not permit writing there; choose a path you can write to",
    errno.EISDIR: "that is a folder; give a file",
}


def _os_error_message(err: OSError) -> str:
    where = f" ({err.filename})" if err.filename else ""
    hint = _OS_HINTS.get(err.errno)
    return f"{err.strerror or err}{where}" + (f": {hint}" if hint else "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_arguments(build_parser(), argv)
    args.argv = ["alignjax", *argv]
    try:
        code = args.run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (InputError, FileNotFoundError, KeyError, ValueError, pickle.UnpicklingError, DownloadError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"alignjax {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system said no: a full disk, a read-only mount, a file in the path
        print(f"alignjax {args.command}: error: {_os_error_message(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
