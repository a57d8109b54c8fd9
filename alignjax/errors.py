"""The project's own error types, importable by every layer (``analysis``, ``data``, ``models``, the CLI)
without pulling in the attacks.

``InputError`` is bad user input: images, labels, eps, options, files; its message says what went
wrong and how to fix it, and the CLI prints it as one ``alignjax <command>: error:`` line (exit 2).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input (images, labels, eps, options, files); the message says how to fix it."""
