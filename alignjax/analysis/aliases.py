"""Model names across sources: an explicit alias table, and a report of every name left unmatched.

Names are never matched fuzzily. ``AliasTable`` maps an alias (as one source spells a model) to the
canonical name; it is read from a CSV/TSV with columns ``alias,model`` or a TOML file with an
``[aliases]`` table. ``reconcile`` lists the models found in both tables and, for every name found in
only one, up to three close spellings from the other side as suggestions for the alias table.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from alignjax.errors import InputError


@dataclass(frozen=True)
class AliasTable:
    """alias -> canonical model name. Aliases of aliases are refused (one hop, explicit)."""

    mapping: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        chained = sorted(alias for alias, name in self.mapping.items() if name in self.mapping and name != alias)
        if chained:
            raise InputError(f"alias table: {chained} map to names that are themselves aliases; "
                             "point every alias straight at the canonical name")

    @classmethod
    def read(cls, path: str | Path) -> AliasTable:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"alias table {path} does not exist")
        if path.suffix == ".toml":
            with path.open("rb") as handle:
                table = tomllib.load(handle).get("aliases")
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise InputError(f"{path}: expected an [aliases] table of alias = \"model\" strings")
            return cls(dict(table))
        frame = pl.read_csv(path, separator="\t" if path.suffix == ".tsv" else ",", infer_schema=False,
                            comment_prefix="#")
        if not {"alias", "model"} <= set(frame.columns):
            raise InputError(f"{path}: an alias table needs columns 'alias' and 'model'; found {frame.columns}")
        frame = frame.select(pl.col("alias").str.strip_chars(), pl.col("model").str.strip_chars()).drop_nulls()
        conflicts = frame.group_by("alias").agg(pl.col("model").n_unique().alias("k")).filter(pl.col("k") > 1)
        if conflicts.height:
            raise InputError(f"{path}: aliases mapped to several models: {sorted(conflicts.get_column('alias'))}")
        return cls(dict(frame.unique(subset="alias").iter_rows()))

    def apply(self, frame: pl.DataFrame, column: str = "model") -> pl.DataFrame:
        if not self.mapping:
            return frame
        return frame.with_columns(pl.col(column).replace(dict(self.mapping)))


@dataclass(frozen=True)
class Reconciliation:
    """Which models two tables share, and every name only one of them has."""

    matched: tuple[str, ...]
    only_left: tuple[str, ...]
    only_right: tuple[str, ...]
    suggestions: Mapping[str, tuple[str, ...]]

    def notes(self, left: str, right: str) -> list[str]:
        lines = [f"{len(self.matched)} model(s) have both {left} and {right}"]
        for names, here, there in ((self.only_left, left, right), (self.only_right, right, left)):
            if names:
                described = [f"{n} (close: {', '.join(self.suggestions[n])})" if self.suggestions.get(n) else n
                             for n in names]
                lines.append(f"{len(names)} model(s) with {here} but no {there}: " + "; ".join(described))
        return lines


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def reconcile(left: Iterable[str], right: Iterable[str]) -> Reconciliation:
    """Exact-name matching of two model lists, with close spellings suggested for the rest."""
    left_set, right_set = set(left), set(right)
    only_left = tuple(sorted(left_set - right_set))
    only_right = tuple(sorted(right_set - left_set))
    suggestions: dict[str, tuple[str, ...]] = {}
    for names, others in ((only_left, only_right), (only_right, only_left)):
        keyed = {_key(o): o for o in others}
        for name in names:
            close = difflib.get_close_matches(_key(name), list(keyed), n=3, cutoff=0.75)
            suggestions[name] = tuple(keyed[c] for c in close)
    return Reconciliation(tuple(sorted(left_set & right_set)), only_left, only_right, suggestions)
