"""The persistent XLA compilation cache of the ``alignjax`` commands: a second run reads its programs back.

``attack``, ``sweep``, ``crosscheck`` and ``align neural|behavior`` call ``enable_for_command(args)``
before they compile anything. The cache then lives in ``cache_root()/xla`` (``$ALIGNJAX_CACHE/xla``,
else ``~/.cache/alignjax/xla``), in one subfolder per jax version, jaxlib version and backend platform
(``jax-0.10.2-jaxlib-0.10.2-cpu``), so an upgrade starts a new folder instead of reading another
version's entries (JAX's own key holds the jaxlib version too; the folder also lets old versions be
deleted by hand). Every program is cached, however fast it compiled: most of the cascade's programs
compile in under the one second JAX waits for by default. JAX keeps each folder under ``MAX_BYTES``,
evicting the least recently used entries (``jax_compilation_cache_max_size``; its file lock comes with
``huggingface_hub``, a dependency).

``--no-compilation-cache`` or ``ALIGNJAX_COMPILATION_CACHE=0`` leave it off. A cache folder already set
through JAX's own ``JAX_COMPILATION_CACHE_DIR`` is kept as the user set it. Only the command-line path
turns the cache on: a library caller (and the test suite) keeps JAX's settings as they are.

The cache is trusted code (JAX's warning): a folder that others may write to lets them run code here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

ENV_SWITCH = "ALIGNJAX_COMPILATION_CACHE"
MAX_BYTES = 2 * 1024**3
_OFF = ("0", "false", "no", "off")


def add_argument(parser: argparse._ActionsContainer) -> None:
    """``--no-compilation-cache`` on a command that compiles."""
    parser.add_argument(
        "--no-compilation-cache", action="store_true",
        help=f"do not read or write the persistent XLA compilation cache (on by default, in "
        f"$ALIGNJAX_CACHE/xla or ~/.cache/alignjax/xla, one folder per jax version; {ENV_SWITCH}=0 turns it "
        "off too)")


def switched_off_by_environment() -> bool:
    return os.environ.get(ENV_SWITCH, "").strip().lower() in _OFF


def default_root() -> Path:
    from alignjax.weights.hub import cache_root

    return cache_root() / "xla"


def versioned_folder(root: Path) -> Path:
    """``root/jax-<version>-jaxlib-<version>-<platform>`` (initialises the backend to learn its platform)."""
    import jax

    return Path(root) / f"jax-{jax.__version__}-jaxlib-{jax.lib.__version__}-{jax.default_backend()}"


def enable(root: Path, *, max_bytes: int = MAX_BYTES) -> Path:
    """Turns the persistent cache on in ``root``'s versioned subfolder, for every program; returns the
    folder. Call it before the process compiles what it should read back (JAX opens the folder at its next
    compile)."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    folder = versioned_folder(root)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", int(max_bytes))
    compilation_cache.set_cache_dir(str(folder))
    compilation_cache.reset_cache()  # a cache opened earlier in this process is reopened at the new folder
    return folder


def enable_for_command(args: argparse.Namespace, root: Path | None = None) -> Path | None:
    """The commands' default: on in ``root`` (default ``default_root()``) unless ``--no-compilation-cache``,
    ``ALIGNJAX_COMPILATION_CACHE=0`` (ignored when a ``root`` is given explicitly) or a folder set through
    JAX's own settings; returns the folder it turned on, else None."""
    import jax

    if getattr(args, "no_compilation_cache", False):
        return None
    if root is None and switched_off_by_environment():
        return None
    if root is None and jax.config.values["jax_compilation_cache_dir"]:
        return None  # JAX_COMPILATION_CACHE_DIR: the user's own choice
    return enable(root if root is not None else default_root())


def manifest_entry() -> dict[str, Any]:
    """What the run used, read off JAX's settings: whether a persistent cache was on, its folder and bound."""
    import jax

    folder = jax.config.values["jax_compilation_cache_dir"]
    enabled = bool(folder) and bool(jax.config.values["jax_enable_compilation_cache"])
    max_size = jax.config.values["jax_compilation_cache_max_size"]
    return {"enabled": enabled, "folder": str(folder) if enabled else None,
            "max_bytes": max_size if enabled and max_size >= 0 else None}
