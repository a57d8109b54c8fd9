"""Ready protocols as TOML files (``protocols/<name>.toml``) loaded into frozen configs.

``load_protocol("paper")`` gives the protocol of arXiv 2502.12377: which ImageNet validation images
(``DataProtocol.indices``: the paper's seed-42 permutation and slice), Brain-Score preprocessing
(``PreprocessingProtocol.transform``), the paper's attack preset at eps 0.001, 0.5/255 and 1/255
(``AttackProtocol``: a version name of ``alignjax.attacks.presets.version_attacks``, which the caller
turns into attack configs, so that the analysis layer does not import the attacks) and the analyses
(``Protocol.analysis``, an ``AnalysisConfig``). A path to another TOML file with the same tables works
the same way; unknown keys are refused.
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.analysis.embedding import EmbeddingConfig
from alignjax.analysis.pipeline import AnalysisConfig
from alignjax.analysis.resampling import ResamplingConfig
from alignjax.eps import parse_eps
from alignjax.errors import InputError

RESAMPLING_KEYS = ("n_bootstrap", "n_permutations", "confidence_level", "interval", "seed")


@dataclass(frozen=True)
class DataProtocol:
    dataset: str
    n_total: int
    shuffle_seed: int
    start: int
    stop: int

    def indices(self) -> np.ndarray:
        """Positions in ImageFolder order: ``np.random.seed(s); np.random.permutation(n)[start:stop]``."""
        return np.random.RandomState(self.shuffle_seed).permutation(self.n_total)[self.start:self.stop]


@dataclass(frozen=True)
class PreprocessingProtocol:
    kind: str
    image_size: int

    def transform(self):
        """The PIL transform (``alignjax.data.preprocessing.brainscore_transform``)."""
        if self.kind != "brainscore":
            raise InputError(f"unknown preprocessing kind {self.kind!r}; the protocols know 'brainscore'")
        from alignjax.data.preprocessing import brainscore_transform

        return brainscore_transform(self.image_size)


@dataclass(frozen=True)
class AttackProtocol:
    version: str
    norm: str
    eps: tuple[float, ...]
    eps_text: tuple[str, ...]
    n_classes: int
    seed: int


@dataclass(frozen=True)
class Protocol:
    name: str
    reference: str
    data: DataProtocol
    preprocessing: PreprocessingProtocol
    attack: AttackProtocol
    analysis: AnalysisConfig
    source: str


def parse_number(text: str) -> float:
    """'0.001', '1/255' or '0.5/255' -> float > 0 (``alignjax.eps.parse_eps``)."""
    return parse_eps(text)


def _section(document: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    section = document.get(name)
    if not isinstance(section, dict):
        raise InputError(f"{where}: missing [{name}] table")
    return dict(section)


def _build(cls, values: dict[str, Any], where: str):
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    unknown = sorted(set(values) - names)
    missing = sorted(required - set(values))
    if unknown or missing:
        raise InputError(f"{where}: unknown key(s) {unknown}, missing key(s) {missing}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: {err}") from None


def parse_protocol(document: dict[str, Any], source: str) -> Protocol:
    attack = _section(document, "attack", source)
    texts = tuple(str(e) for e in attack.pop("eps", ()))
    try:
        values = tuple(parse_number(t) for t in texts)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"{source} [attack]: eps must be numbers or fractions like '1/255', got {texts}") from None
    analysis = _section(document, "analysis", source)
    embedding = _build(EmbeddingConfig, analysis.pop("embedding", {}), f"{source} [analysis.embedding]")
    resampling = _build(ResamplingConfig, {k: analysis.pop(k) for k in RESAMPLING_KEYS if k in analysis},
                        f"{source} [analysis]")
    for key in ("methods", "resampled_methods", "aggregates", "drop_benchmarks"):
        if key in analysis:
            analysis[key] = tuple(analysis[key])
    analysis_config = _build(AnalysisConfig, {**analysis, "resampling": resampling, "embedding": embedding},
                             f"{source} [analysis]")
    return Protocol(
        name=str(document.get("name", Path(source).stem)), reference=str(document.get("reference", "")),
        data=_build(DataProtocol, _section(document, "data", source), f"{source} [data]"),
        preprocessing=_build(PreprocessingProtocol, _section(document, "preprocessing", source),
                             f"{source} [preprocessing]"),
        attack=_build(AttackProtocol, {**attack, "eps": values, "eps_text": texts}, f"{source} [attack]"),
        analysis=analysis_config, source=source)


def available_protocols() -> tuple[str, ...]:
    folder = resources.files("alignjax.analysis") / "protocols"
    return tuple(sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A shipped protocol by name ("paper") or a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"protocol file {path} does not exist")
        text, source = path.read_text(), str(path)
    else:
        if str(name_or_path) not in available_protocols():
            raise InputError(f"unknown protocol {name_or_path!r}; shipped: {available_protocols()}, or give a .toml path")
        text = (resources.files("alignjax.analysis") / "protocols" / f"{name_or_path}.toml").read_text()
        source = f"alignjax/analysis/protocols/{name_or_path}.toml"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{source}: invalid TOML ({err})") from None
    return parse_protocol(document, source)
