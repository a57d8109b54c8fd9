"""Applies a ``ModelSpec``'s ``CheckpointQuirks`` (data) to a checkpoint's state dict.

The steps and their order are documented on ``alignjax.models.registry.CheckpointQuirks``. After them,
a prefix shared by every key (``module.``, ``model.``, ``_orig_mod.``) is removed as for any file
(``strict.strip_prefixes``), and either the named layout converter (``keymaps.get_layout``) or the
architecture's key map (``keymaps.get_converter``) produces the flat Flax variables. Every step that
matches nothing a checkpoint of that layout should have is an error naming the entry's quirk, so a
changed upstream file is reported rather than silently loaded half-empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.models.registry import NO_QUIRKS, CheckpointQuirks
from alignjax.weights.errors import CheckpointMismatchError
from alignjax.weights.keymaps import get_converter, get_layout
from alignjax.weights.strict import is_flax_state, strip_prefixes

__all__ = ["apply_quirks", "prepare_state_dict"]


def apply_quirks(state_dict: Mapping[str, np.ndarray], quirks: CheckpointQuirks, *,
                 source: str = "checkpoint") -> dict[str, np.ndarray]:
    """Steps 2-5 of ``CheckpointQuirks`` (the ``key`` is the reader's, the ``layout`` the converter's)."""
    out = dict(state_dict)
    if quirks.keep_prefix is not None:
        out = {name[len(quirks.keep_prefix):]: value for name, value in out.items()
               if name.startswith(quirks.keep_prefix)}
        if not out:
            raise CheckpointMismatchError(
                f"{source}: no key starts with {quirks.keep_prefix!r} (the entry's keep_prefix quirk); "
                f"keys start with {_heads(state_dict)}: is this the checkpoint the entry names?")
    for pattern in quirks.drop:
        compiled = re.compile(pattern)
        out = {name: value for name, value in out.items() if not compiled.search(name)}
    for prefix in quirks.strip_prefixes:
        stripped = {}
        for name, value in out.items():
            while name.startswith(prefix):
                name = name[len(prefix):]
            stripped[name] = value
        out = stripped
    for pattern, replacement in quirks.rename:
        compiled = re.compile(pattern)
        renamed = {compiled.sub(replacement, name): value for name, value in out.items()}
        if len(renamed) != len(out):
            raise CheckpointMismatchError(
                f"{source}: the rename quirk {pattern!r} -> {replacement!r} maps two keys onto one")
        out = renamed
    return out


def prepare_state_dict(state_dict: Mapping[str, np.ndarray], arch: str,
                       quirks: CheckpointQuirks = NO_QUIRKS, *, source: str = "checkpoint") -> dict[str, np.ndarray]:
    """A checkpoint's state dict -> flat Flax variables for ``arch``, quirks applied (not yet checked)."""
    cleaned = strip_prefixes(apply_quirks(state_dict, quirks, source=source))
    if quirks.layout is not None:
        return get_layout(quirks.layout)(cleaned, arch)
    if is_flax_state(cleaned):  # alignjax's own converted files
        return get_layout("flax")(cleaned, arch)
    return get_converter(arch)(cleaned)


def _heads(state_dict: Mapping[str, np.ndarray]) -> str:
    heads = sorted({name.split(".", 1)[0] + "." for name in state_dict})
    return ", ".join(heads[:6]) + (" ..." if len(heads) > 6 else "")
