"""Cheaper XLA compiles for tests that compile many attack programs (not used by the library).

``cheap_compiles(cache_dir, disable_optimizations=...)`` turns on JAX's persistent compilation cache
in ``cache_dir`` (every program cached, however fast it compiled), so a program that is compiled again
(the same model and attack config reached through another architecture name, another CLI run or
another version's preset) is read back instead of recompiled; with ``disable_optimizations`` XLA's
backend optimisations are off too (``jax_disable_most_optimizations``: same program, faster compiles,
slower code: right for tiny models, wrong for big matmuls or unusual convolutions). Everything is
restored on exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

_OPTIONS = (
    "jax_disable_most_optimizations",
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


@contextlib.contextmanager
def cheap_compiles(cache_dir: Path | None, *, disable_optimizations: bool = False) -> Iterator[None]:
    """``cache_dir`` None: optimisations off only, no persistent cache (jaxlib's cache write has crashed
    long-lived test workers that compile hundreds of programs: README, RESULTS.md)."""
    previous = {name: jax.config.values[name] for name in _OPTIONS}
    try:
        jax.config.update("jax_disable_most_optimizations", disable_optimizations)
        if cache_dir is not None:
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
            compilation_cache.set_cache_dir(str(cache_dir))
            compilation_cache.reset_cache()
        yield
    finally:
        for name, value in previous.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
