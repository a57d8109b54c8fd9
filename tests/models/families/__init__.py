"""Per-family test tables: one module per architecture family, collected by the tests that cover every
registered architecture.

A module here may define any of:

- ``UPSTREAM``: ``{arch: reference_builders.Reference}``, the installable upstream torch module each
  architecture is compared with at full size (``test_upstream.py``: logits within 1e-4 of upstream
  after conversion through the registered key map, and equal parameter counts);
- ``REWRITTEN``: architectures whose torch reference had to be rewritten (no installable upstream);
- ``SMALL``: ``{arch: (builder options that make it small, small input shape)}`` for
  ``test_every_architecture_attackable.py`` (the four attacks under the cascade's jit);
- ``REAL_INPUT``: ``{arch: input shape}`` where it is not 224x224x3;
- ``REAL_SIZE_SLOW``: architectures whose full-size input-gradient check runs only with ``-m slow``
  (the largest variants; their family's smallest variant runs by default);
- ``ATTACK_SLOW``: architectures whose ``SMALL`` model is the same program as a sibling's that runs by
  default, so their small-model checks are left to ``-m slow``;
- ``UNBREAKABLE_WHEN_RANDOM``: architectures whose small random-weight model is too insensitive to its
  input for the attack test to expect a broken point (every other check of the test still applies).

Adding a family means adding one file here; no shared table has to be edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def collect(name: str) -> dict[str, Any]:
    """The union of attribute ``name`` over every family module (a dict, or a set as keys -> True)."""
    merged: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        table = getattr(module, name, None)
        if table is None:
            continue
        items = table.items() if isinstance(table, dict) else ((key, True) for key in table)
        for key, value in items:
            if key in merged:
                raise ValueError(f"{key!r} appears twice in the family tables' {name}")
            merged[key] = value
    return merged
