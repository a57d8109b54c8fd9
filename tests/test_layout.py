"""The package's import layering, read from the source with ``ast`` (no module is imported).

Every ``import`` and ``from ... import`` naming an alignjax module becomes an edge of a graph between
alignjax modules (a package is its ``__init__.py``). ``from alignjax.x import y`` points at the submodule
``alignjax.x.y`` when there is one, else at ``alignjax.x``. Imports are sorted by where they stand:
module level (run on import, including those under ``try``/``if``/``class``), inside a function (run on
call), or under ``if TYPE_CHECKING:`` (never run). Two dynamic forms the package uses count as well: a
package's ``for ... in pkgutil.iter_modules(__path__)`` loop imports each of its submodules where it
stands, and the modules of a lazy-export table (``_EXPORTS``, ``alignjax/lazy_exports.py``) are imported
on first use, as from a function. Checked:

- no import cycle between modules through module-level imports;
- no cycle between the first-level parts of the package (``models``, ``weights``, ``attacks``, ...;
  top-level modules such as ``loading`` count as parts of their own) through module-level imports, a
  package's ``__init__.py`` counting for the package;
- ``alignjax.analysis`` imports nothing from ``alignjax.attacks``, and ``alignjax.models`` nothing from
  ``alignjax.weights``, at any level (function-level and type-checking imports included).
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "alignjax"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

MODULE, FUNCTION, TYPE_CHECKING = "module", "function", "type-checking"


@dataclasses.dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported alignjax module
    line: int
    level: str  # MODULE, FUNCTION or TYPE_CHECKING


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {
    module_name(path): path for path in sorted(ROOT.rglob("*.py")) if "__pycache__" not in path.parts
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(body: list[ast.stmt], level: str) -> Iterator[tuple[ast.stmt, str]]:
    """Every statement under ``body`` with where it runs; function bodies run on call."""
    for node in body:
        yield node, level
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _statements(node.body, FUNCTION if level == MODULE else level)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.body, TYPE_CHECKING)
            yield from _statements(node.orelse, level)
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, field, ()):
                if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _statements(child.body, level)
                elif isinstance(child, ast.stmt):
                    yield from _statements([child], level)


def _lists_own_submodules(iterated: ast.expr) -> bool:
    """Whether ``iterated`` is ``pkgutil.iter_modules(__path__)``."""
    func = iterated.func if isinstance(iterated, ast.Call) else None
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name == "iter_modules" and any(isinstance(arg, ast.Name) and arg.id == "__path__"
                                          for arg in iterated.args)


def _is_lazy_export_table(node: ast.stmt) -> bool:
    """Whether ``node`` assigns a dict literal to ``_EXPORTS``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return False
    return isinstance(node.value, ast.Dict) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS"
                                                    for t in targets)


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    return imports_in(path.read_text(), module, is_package=path.name == "__init__.py", filename=str(path))


def imports_in(source: str, module: str, *, is_package: bool, filename: str = "<source>") -> list[Import]:
    tree = ast.parse(source, filename=filename)
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node, level in _statements(tree.body, MODULE):
        names: list[str] = []
        where = level
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                     for alias in node.names]
        elif is_package and isinstance(node, ast.For) and _lists_own_submodules(node.iter):
            # ``for info in pkgutil.iter_modules(__path__): importlib.import_module(...)`` (models/)
            names = [name for name in MODULES if name.rpartition(".")[0] == module]
        elif is_package and _is_lazy_export_table(node):
            # the names of ``_EXPORTS`` (alignjax/lazy_exports.py) are imported on first use
            where = FUNCTION if level == MODULE else level
            names = [value.value for value in node.value.values if isinstance(value, ast.Constant)]
        # a name that is no alignjax module is another library's, or a broken import that fails on its own
        found.extend(Import(module, name, node.lineno, where) for name in dict.fromkeys(names)
                     if name in MODULES and name != module)
    return found


IMPORTS: list[Import] = [edge for module in MODULES for edge in imports_of(module)]


def part_of(module: str) -> str:
    """The first-level part of the package that ``module`` belongs to (``alignjax.models.zoo`` -> models)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def graph(edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for source, target in edges:
        if source != target:
            out.setdefault(source, set()).add(target)
            out.setdefault(target, set())
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through the first node (sorted) of every strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graphs are small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    found = []
    for component in sorted(components):
        start, members = component[0], set(component)
        parents: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in parents:  # breadth first from start back to start
            following = []
            for node in frontier:
                for other in sorted(edges[node] & members):
                    if other not in parents:
                        parents[other] = node
                        following.append(other)
            frontier = following
        path = [start]
        while len(path) == 1 or path[-1] != start:
            path.append(parents[path[-1]])
        found.append(path[::-1])
    return found


def describe(cycle: list[str], edges: list[Import], key) -> str:
    """``a -> b -> a`` with the import line behind each step."""
    steps = []
    for source, target in itertools.pairwise(cycle):
        lines = sorted(f"{MODULES[e.source].relative_to(ROOT.parent)}:{e.line}" for e in edges
                       if key(e.source) == source and key(e.target) == target)
        steps.append(f"  {source} -> {target}  ({', '.join(lines[:3])}{' ...' if len(lines) > 3 else ''})")
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


def test_the_parser_sees_every_kind_of_import():
    source = """
import numpy
import alignjax.models.registry as registry
from alignjax.models import resnet, ARCHITECTURES
from . import preprocessing
from ..weights.hub import fetch
from typing import TYPE_CHECKING
try:
    from alignjax import errors
except ImportError:
    import alignjax.types
if TYPE_CHECKING:
    from alignjax.attacks import apgd
else:
    from alignjax.models.nonexistent import thing

class Holder:
    import alignjax.eps

def later():
    def inner():
        from alignjax.analysis.statistics import benjamini_hochberg
    import alignjax.files
"""
    found = {(e.target, e.level) for e in imports_in(source, "alignjax.data.stimuli", is_package=False)}
    assert found == {
        ("alignjax.models.registry", MODULE), ("alignjax.models.resnet", MODULE), ("alignjax.models", MODULE),
        ("alignjax.data.preprocessing", MODULE), ("alignjax.weights.hub", MODULE), ("alignjax.errors", MODULE),
        ("alignjax.types", MODULE), ("alignjax.attacks.apgd", TYPE_CHECKING), ("alignjax.eps", MODULE),
        ("alignjax.analysis.statistics", FUNCTION), ("alignjax.files", FUNCTION),
    }
    package = """
import pkgutil
_EXPORTS: dict[str, str] = {"read_state_dict": "alignjax.weights.readers"}
for info in pkgutil.iter_modules(__path__):
    pass
"""
    found = {(e.target, e.level) for e in imports_in(package, "alignjax.weights.keymaps", is_package=True)}
    submodules = {name for name in MODULES if name.startswith("alignjax.weights.keymaps.")}
    assert len(submodules) > 10
    assert found == {("alignjax.weights.readers", FUNCTION)} | {(name, MODULE) for name in submodules}
    assert len(MODULES) > 100 and {"alignjax", "alignjax.models", "alignjax.models.zoo"} <= set(MODULES)


def test_the_cycle_finder_names_one_cycle_per_tangle():
    edges = graph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("e", "d"), ("f", "a")])
    assert cycles(edges) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert cycles(graph([("a", "b"), ("b", "c"), ("a", "c")])) == []


def test_no_module_level_import_cycle():
    edges = [e for e in IMPORTS if e.level == MODULE]
    found = cycles(graph([(e.source, e.target) for e in edges]))
    assert not found, "module-level import cycles:\n" + "\n".join(
        describe(cycle, edges, lambda name: name) for cycle in found)


def test_no_import_cycle_between_the_first_level_parts_of_the_package():
    edges = [e for e in IMPORTS if e.level == MODULE and PACKAGE not in (part_of(e.source), part_of(e.target))]
    found = cycles(graph([(part_of(e.source), part_of(e.target)) for e in edges]))
    assert not found, "import cycles between alignjax's first-level parts (module-level imports):\n" + "\n".join(
        describe(cycle, edges, part_of) for cycle in found)


@pytest.mark.parametrize(("importer", "imported"), [("analysis", "attacks"), ("models", "weights")])
def test_lower_layers_do_not_import_higher_ones(importer, imported):
    wrong = sorted(f"{MODULES[e.source].relative_to(ROOT.parent)}:{e.line} ({e.level}) imports {e.target}"
                   for e in IMPORTS if part_of(e.source) == importer and part_of(e.target) == imported)
    assert not wrong, f"alignjax.{importer} must not import alignjax.{imported}:\n" + "\n".join(wrong)
