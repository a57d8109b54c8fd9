"""A custom attack list as text: ``apgd-ce, apgd-t(n_iter=20, n_target_classes=3), square(n_queries=500)``.

Each entry is a reference attack name (``presets.ATTACK_NAMES``), optionally followed by settings in
parentheses that replace fields of that attack's config (``APGDConfig``, ``FABConfig``,
``SquareConfig``); values are converted to the field's type and checked by the config itself. Norm and
eps come from the evaluation and cannot be set per attack. Without settings an entry is exactly the
reference constructor's default (``presets.custom``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from alignjax.attacks import presets
from alignjax.errors import InputError

_ENTRY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(?:\((.*?)\))?\s*(?:,|$)")
_FIXED = ("norm", "eps")


def parse_attack_list(text: str) -> list[tuple[str, dict[str, str]]]:
    """'a, b(k=v, k2=v2)' -> [('a', {}), ('b', {'k': 'v', 'k2': 'v2'})]."""
    entries: list[tuple[str, dict[str, str]]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _ENTRY.match(text, position)
        if match is None or match.end() == position:
            raise InputError(f"cannot read the attack list at {text[position:]!r}; write e.g. "
                             "'apgd-ce,apgd-t(n_iter=20),square(n_queries=500)'")
        name, settings = match.group(1), match.group(2)
        options: dict[str, str] = {}
        for item in (settings or "").split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"setting {item.strip()!r} of {name} must look like name=value")
            options[key.strip()] = value.strip()
        entries.append((name, options))
        position = match.end()
    return entries


def _convert(value: str, current: Any, field: str, attack: str) -> Any:
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[type(current)]
        raise InputError(f"{attack}: {field}={value!r} must be {kind}") from None
    return value


def with_settings(config: Any, settings: dict[str, str], attack: str) -> Any:
    """``config`` with fields replaced by ``settings`` (text values converted to each field's type)."""
    if not settings:
        return config
    fields = {f.name for f in dataclasses.fields(config)} - set(_FIXED)
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise InputError(f"{attack} has no setting {', '.join(unknown)}; its settings: "
                         f"{', '.join(sorted(fields))} (norm and eps are the evaluation's)")
    values = {k: _convert(v, getattr(config, k), k, attack) for k, v in settings.items()}
    try:
        return dataclasses.replace(config, **values)
    except (TypeError, ValueError) as err:
        raise InputError(f"{attack}: {err}") from None


def custom_attacks(text: str, norm: str, eps: float) -> tuple[Any, ...]:
    """The configs of a custom attack list (see the module docstring)."""
    entries = parse_attack_list(text)
    if not entries:
        raise InputError(f"--attacks is empty; name at least one of {', '.join(presets.ATTACK_NAMES)}")
    try:
        configs = presets.custom([name for name, _ in entries], norm, eps)
    except ValueError as err:
        raise InputError(str(err)) from None
    return tuple(with_settings(cfg, settings, name)
                 for cfg, (name, settings) in zip(configs, entries, strict=True))
