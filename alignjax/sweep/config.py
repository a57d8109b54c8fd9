"""A sweep's configuration: frozen dataclasses read from a TOML or Python file, validated on load.

A sweep is a grid ``models x datasets x threat models (norm, eps) x AutoAttack versions x seeds``. The
TOML form (``configs/paper_grid.toml`` and ``configs/digits_example.toml`` are worked examples)::

    name = "digits-example"        # the run id (a changed grid is refused under the same name)
    seeds = [0]
    versions = ["standard", "fast"]  # presets (standard, plus, rand, paper) or tables below

    pools = ["paper"]              # every model of a registry pool (``alignjax models --pool paper``)

    [[models]]                     # a registry model (``alignjax models``)
    name = "digits_cnn"

    [[models]]                     # many checkpoints of one architecture, attacked as one program
    name = "digits-seeds"
    arch = "small_cnn"
    num_classes = 10
    input_shape = [8, 8, 1]
    checkpoints = ["ckpt/seed0.safetensors", "ckpt/seed1.safetensors"]  # relative to the config file
    stack = "auto"                 # true: vmapped together; false: one by one; auto: true on accelerators

    [[datasets]]
    name = "digits-test"
    kind = "digits"                # digits | npz | cifar10 | cifar100 | imagenet
    n = 397

    [[threats]]
    norm = "Linf"
    eps = [0.1, "8/255"]

    [version.fast]                 # a custom version: reference attacks with changed settings
    attacks = [{ attack = "apgd-ce", n_iter = 10 }, { attack = "square", n_queries = 100 }]

A Python config defines ``CONFIG`` (a dict of the same shape, or a ``SweepConfig``) or ``get_config()``.
Batch size, output folder and progress are command-line options, not part of the grid: changing them
never changes a result. The reductions ``--n/--n-iter/--n-queries/--n-restarts`` do change results:
they are part of the grid (``SweepConfig.overrides``, ``overrides.py``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import tomllib
from pathlib import Path
from typing import Any

from alignjax.eps import parse_eps as _parse_eps
from alignjax.errors import InputError
from alignjax.sweep.overrides import Overrides

PRESET_VERSIONS = ("standard", "plus", "rand", "paper")
DATASET_KINDS = ("digits", "npz", "cifar10", "cifar100", "imagenet")
IMAGENET_SUBSETS = ("all", "robustbench", "paper")
PREPROCESSINGS = ("model", "brainscore")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registry model (``arch`` None), or checkpoints of one architecture (``arch`` and ``checkpoints``).

    ``stack``: attack the checkpoints as one vmapped program (True), one at a time (False), or "auto":
    stacked on accelerators, one at a time on CPU, where XLA's grouped convolutions (what vmap makes of
    per-checkpoint kernels) are slower (benchmarks/RESULTS.md). Results are the same either way.
    ``robustbench`` names the model's RobustBench id when it has one (for ``alignjax results --check``).
    """

    name: str
    arch: str | None = None
    checkpoints: tuple[str, ...] = ()
    num_classes: int | None = None
    input_shape: tuple[int, int, int] | None = None
    stack: bool | str = "auto"
    robustbench: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """Evaluation points: the first ``n`` (after ``start``) of a data set, in its fixed order.

    ``imagenet`` subsets: 'all' (folder order), 'robustbench' (its fixed 5000), 'paper' (the paper's
    ``np.random.seed(42)`` permutation of the 50,000 validation images, kyangl/alignment-security
    ``dataloading.get_dataloader``). ``preprocessing`` for image files: 'model' (the registry entry's
    resize + centre crop) or 'brainscore' (square resize to the model's input, as the paper's models).
    """

    name: str
    kind: str
    path: str | None = None
    n: int | None = None
    start: int = 0
    subset: str = "all"
    preprocessing: str = "model"
    layout: str = "nhwc"


@dataclasses.dataclass(frozen=True)
class ThreatEntry:
    norm: str
    eps: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class AttackEntry:
    """One reference attack by name (``presets.ATTACK_NAMES``) with settings changed from its defaults."""

    attack: str
    settings: tuple[tuple[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class VersionEntry:
    """A named attack list: a preset, a preset with ``settings`` applied to every attack that has them,
    or explicit ``attacks``."""

    name: str
    base: str | None = None
    settings: tuple[tuple[str, Any], ...] = ()
    attacks: tuple[AttackEntry, ...] = ()


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    name: str
    models: tuple[ModelEntry, ...]
    datasets: tuple[DatasetEntry, ...]
    threats: tuple[ThreatEntry, ...]
    versions: tuple[VersionEntry, ...]
    seeds: tuple[int, ...] = (0,)
    checkpoint_seconds: float = 60.0  # mid-unit state saves (not part of the grid)
    overrides: Overrides = dataclasses.field(default_factory=Overrides)  # command-line reductions (``overrides.with_overrides``)

    def grid_dict(self) -> dict[str, Any]:
        """Everything that decides results (what the config hash covers), as plain JSON-able data."""
        data = dataclasses.asdict(self)
        data.pop("checkpoint_seconds")
        if not self.overrides.active:  # absent, not null: the hashes of unreduced grids stay as they were
            data.pop("overrides")
        return data


def parse_eps(value: Any, where: str) -> float:
    """0.001, '1e-3', '8/255' or '0.5/255' -> a positive finite float (``alignjax.eps.parse_eps``)."""
    try:
        return _parse_eps(value)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None


def _take(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(f"{where} must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
    return table


def _settings(table: Any, where: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(table, dict):
        raise InputError(f"{where} must be a table of attack settings, e.g. {{ n_iter = 10 }}")
    return tuple(sorted(table.items()))


def _model(table: dict[str, Any], base: Path, i: int) -> ModelEntry:
    where = f"models[{i}]"
    t = _take(table, ("name", "arch", "checkpoints", "num_classes", "input_shape", "stack", "robustbench"), where)
    if not isinstance(t.get("name"), str) or not t["name"]:
        raise InputError(f"{where}: give a name (a registry model, or a label for checkpoints)")
    arch, checkpoints = t.get("arch"), t.get("checkpoints", [])
    if (arch is None) != (not checkpoints):
        raise InputError(f"{where} ({t['name']}): 'arch' and 'checkpoints' go together (checkpoints of one "
                         "architecture); leave both out for a registry model")
    resolved = tuple(str((base / c).resolve()) if not Path(c).is_absolute() else c for c in checkpoints)
    if len(set(resolved)) != len(resolved):
        raise InputError(f"{where} ({t['name']}): a checkpoint is listed twice")
    stack = t.get("stack", "auto")
    if stack not in (True, False, "auto"):
        raise InputError(f"{where} ({t['name']}): stack must be true, false or \"auto\", got {stack!r}")
    shape = t.get("input_shape")
    if arch is not None and (shape is None or t.get("num_classes") is None):
        raise InputError(f"{where} ({t['name']}): checkpoints need num_classes and input_shape = [h, w, c]")
    return ModelEntry(name=t["name"], arch=arch, checkpoints=resolved, num_classes=t.get("num_classes"),
                      input_shape=tuple(shape) if shape is not None else None,  # type: ignore[arg-type]
                      stack=stack, robustbench=t.get("robustbench"))


def _dataset(table: dict[str, Any], base: Path, i: int) -> DatasetEntry:
    where = f"datasets[{i}]"
    t = _take(table, ("name", "kind", "path", "n", "start", "subset", "preprocessing", "layout"), where)
    kind = t.get("kind")
    if kind not in DATASET_KINDS:
        raise InputError(f"{where}: kind must be one of {DATASET_KINDS}, got {kind!r}")
    path = t.get("path")
    if kind != "digits" and not path:
        raise InputError(f"{where}: kind {kind!r} needs path = ... (a file or folder)")
    subset, prep = t.get("subset", "all"), t.get("preprocessing", "model")
    if subset not in IMAGENET_SUBSETS or (subset != "all" and kind != "imagenet"):
        raise InputError(f"{where}: subset {subset!r} is not available; ImageNet has {IMAGENET_SUBSETS}")
    if prep not in PREPROCESSINGS:
        raise InputError(f"{where}: preprocessing must be one of {PREPROCESSINGS}, got {prep!r}")
    n, start = t.get("n"), t.get("start", 0)
    if (n is not None and (not isinstance(n, int) or n < 1)) or not isinstance(start, int) or start < 0:
        raise InputError(f"{where}: n must be a positive int and start a non-negative int")
    if path is not None and not Path(path).is_absolute():
        path = str((base / path).resolve())
    return DatasetEntry(name=t.get("name") or kind, kind=kind, path=path, n=n, start=start, subset=subset,
                        preprocessing=prep, layout=t.get("layout", "nhwc"))


def _threat(table: dict[str, Any], i: int) -> ThreatEntry:
    where = f"threats[{i}]"
    t = _take(table, ("norm", "eps"), where)
    if t.get("norm") not in ("Linf", "L2", "L1"):
        raise InputError(f"{where}: norm must be 'Linf', 'L2' or 'L1', got {t.get('norm')!r}")
    eps = t.get("eps")
    values = eps if isinstance(eps, list) else [eps]
    return ThreatEntry(norm=t["norm"], eps=tuple(parse_eps(e, where) for e in values))


def _version(name: Any, tables: dict[str, Any]) -> VersionEntry:
    if name in PRESET_VERSIONS and name not in tables:
        return VersionEntry(name=name, base=name)
    if name not in tables:
        raise InputError(f"version {name!r} is neither a preset {PRESET_VERSIONS} nor defined in [version.{name}]")
    t = _take(tables[name], ("base", "settings", "attacks"), f"version.{name}")
    if ("attacks" in t) == ("base" in t):
        raise InputError(f"version.{name}: give either base = '<preset>' (with settings) or attacks = [...]")
    attacks = []
    for j, a in enumerate(t.get("attacks", [])):
        if not isinstance(a, dict) or not isinstance(a.get("attack"), str):
            raise InputError(f"version.{name}.attacks[{j}] must be a table with attack = '<name>'")
        attacks.append(AttackEntry(a["attack"], _settings({k: v for k, v in a.items() if k != "attack"}, name)))
    return VersionEntry(name=name, base=t.get("base"), settings=_settings(t.get("settings", {}), name),
                        attacks=tuple(attacks))


def _pool_models(pools: Any, listed: set[str]) -> list[ModelEntry]:
    """The registry models of each named pool (``ModelSpec.pools``), in name order, less those listed."""
    from alignjax.models import MODELS

    if not isinstance(pools, list) or not all(isinstance(p, str) for p in pools):
        raise InputError(f"config: pools must be a list of pool names, e.g. [\"paper\"], got {pools!r}")
    known = sorted({pool for spec in MODELS.values() for pool in spec.pools})
    entries = []
    for pool in pools:
        if pool not in known:
            raise InputError(f"config: unknown pool {pool!r}; the pools are {known} (`alignjax models --pool`)")
        for name in sorted(n for n, spec in MODELS.items() if pool in spec.pools):
            if name not in listed:
                listed.add(name)
                entries.append(ModelEntry(name=name))
    return entries


def config_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> SweepConfig:
    """Validates a config dict (the TOML's shape); relative paths are resolved against ``base_dir``."""
    base = Path(base_dir)
    t = _take(data, ("name", "models", "pools", "datasets", "threats", "versions", "version", "seeds",
                     "checkpoint_seconds"), "config")
    for key in ("name", "datasets", "threats", "versions"):
        if not t.get(key):
            raise InputError(f"config: '{key}' is missing or empty")
    explicit = [_model(m, base, i) for i, m in enumerate(t.get("models", []))]
    pooled = _pool_models(t.get("pools", []), {m.name for m in explicit})
    if not explicit and not pooled:
        raise InputError("config: no models: list [[models]] tables or pools = [\"paper\"]")
    if not isinstance(t["versions"], list):
        raise InputError("config: versions must be a list of names; define custom ones in [version.<name>]")
    tables = t.get("version", {})
    unused = sorted(set(tables) - set(t["versions"]))
    if unused:
        raise InputError(f"config: [version.{unused[0]}] is defined but not listed in versions")
    seeds = t.get("seeds", [0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise InputError(f"config: seeds must be integers, got {seeds!r}")
    config = SweepConfig(
        name=str(t["name"]),
        models=(*explicit, *pooled),
        datasets=tuple(_dataset(d, base, i) for i, d in enumerate(t["datasets"])),
        threats=tuple(_threat(x, i) for i, x in enumerate(t["threats"])),
        versions=tuple(_version(v, tables) for v in t["versions"]),
        seeds=tuple(seeds),
        checkpoint_seconds=float(t.get("checkpoint_seconds", 60.0)),
    )
    for what, names in (("model", [m.name for m in config.models]), ("dataset", [d.name for d in config.datasets]),
                        ("version", [v.name for v in config.versions])):
        if len(set(names)) != len(names):
            raise InputError(f"config: a {what} name is used twice in {names}")
    return config


def load_config(path: str | Path) -> SweepConfig:
    """Reads a ``.toml`` or ``.py`` sweep config; errors name the file and the problem."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"sweep config {path} is a folder: give the .toml or .py file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {path} does not exist")
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"{path} is not valid TOML: {err}") from None
        return config_from_dict(data, path.parent)
    if path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(f"alignjax_sweep_config_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        value = module.get_config() if hasattr(module, "get_config") else getattr(module, "CONFIG", None)
        if isinstance(value, SweepConfig):
            return value
        if isinstance(value, dict):
            return config_from_dict(value, path.parent)
        raise InputError(f"{path} must define CONFIG (a dict or SweepConfig) or get_config()")
    raise InputError(f"sweep config {path} must be a .toml or .py file")
