"""Two registries, filled at import: architectures (name -> Flax module builder) and named models.

An architecture builder takes ``num_classes`` and keyword options (``dtype`` among them) and returns
a ``flax.linen.Module`` whose ``apply({'params': ..., maybe 'batch_stats': ...}, x)`` maps NHWC images in
[0, 1] to logits; any input normalisation lives inside the module.

A named model is a keyword-built ``ModelSpec``: where its checkpoint comes from, the checkpoint's
quirks as data (``CheckpointQuirks``: nested key, prefixes, dropped and renamed keys, a whole-layout
converter by name), how its inputs are preprocessed, and the accuracy it should reach. Quirks live in
the entry, never in name lists inside the loader (the counter-example is robustbench
``utils.load_model``); ``alignjax.weights`` applies them. Nothing here imports ``alignjax.weights``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn

ArchBuilder = Callable[..., nn.Module]

ARCHITECTURES: dict[str, ArchBuilder] = {}
# (h, w, c) an architecture is built for, when it is not ImageNet's 224x224x3 (e.g. CIFAR's 32x32x3)
ARCHITECTURE_INPUT_SHAPES: dict[str, tuple[int, int, int]] = {}
DEFAULT_INPUT_SHAPE = (224, 224, 3)


def register_architecture(
    name: str, *, input_shape: tuple[int, int, int] | None = None
) -> Callable[[ArchBuilder], ArchBuilder]:
    """Decorator: ``@register_architecture('resnet50') def build(num_classes=1000, **kw): ...``.

    ``input_shape`` is the (h, w, c) the architecture is designed for, when that is not 224x224x3; the
    converter checks checkpoints at that size (a CIFAR ResNet's classifier only fits 32x32 inputs).
    """

    def decorate(builder: ArchBuilder) -> ArchBuilder:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHITECTURES[name] = builder
        if input_shape is not None:
            ARCHITECTURE_INPUT_SHAPES[name] = tuple(input_shape)
        return builder

    return decorate


def architecture_input_shape(name: str) -> tuple[int, int, int]:
    """The (h, w, c) ``name`` is built for: its registration's, else a named model's, else 224x224x3."""
    if name in ARCHITECTURE_INPUT_SHAPES:
        return ARCHITECTURE_INPUT_SHAPES[name]
    for spec in MODELS.values():
        if spec.arch == name:
            return spec.input_shape
    return DEFAULT_INPUT_SHAPE


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """Builds a registered architecture; unknown names list what exists."""
    try:
        builder = ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES)) or "(none)"
        raise KeyError(f"unknown architecture {name!r}; known architectures: {known}") from None
    return builder(**kwargs)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How raw images become the model's input (the model normalises internally with mean/std).

    ``resize`` is the shorter-side size (None: no resize), ``crop`` the centre-crop size (None: none),
    ``interpolation`` one of 'bilinear', 'bicubic', 'nearest'.
    """

    resize: int | None = None
    crop: int | None = None
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class RobustAccuracy:
    """A published robust accuracy: ``accuracy`` percent under AutoAttack at ``norm`` radius ``eps``.

    ``eps_text`` keeps the radius as published (``'8/255'``, ``'0.031'``, ``'0.5'``).
    """

    norm: str
    eps: float
    eps_text: str
    accuracy: float

    def __str__(self) -> str:
        return f"{self.accuracy:.2f} ({self.norm} {self.eps_text})"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointQuirks:
    """What a published checkpoint file needs before its architecture's key map applies, as data.

    ``alignjax.weights.quirks.prepare_state_dict`` applies the steps in this order:

    1. ``key``: the entry of a nested checkpoint that holds the weights (``'state_dict'``, ``'model'``,
       ``'last'`` ...), when the reader's automatic selection would not find it;
    2. ``keep_prefix``: only keys starting with it are kept (Madry's robustness library saves the
       model under ``module.model.`` next to a copy under ``module.attacker.model.``);
    3. ``drop``: regexes (``re.search``) of keys to discard (normalisers, unused blocks, aux heads);
    4. ``strip_prefixes``: removed from the front of every key, each as often as it leads
       (``module.`` of ``nn.DataParallel``, ``model.``);
    5. ``rename``: ``(regex, replacement)`` pairs applied with ``re.sub`` in order (e.g. a DataParallel
       inside a ``Sequential``: ``features.module.0`` -> ``features.0``);
    6. ``layout``: the name of a whole-layout converter registered in ``alignjax.weights.keymaps``
       (``'timm_vgg'``, ``'lukemelas_efficientnet'``, ``'bit_npz'``, ``'flax'`` for files that already
       hold Flax variables), used instead of the architecture's own key map.
    """

    key: str | None = None
    keep_prefix: str | None = None
    drop: tuple[str, ...] = ()
    strip_prefixes: tuple[str, ...] = ()
    rename: tuple[tuple[str, str], ...] = ()
    layout: str | None = None


NO_QUIRKS = CheckpointQuirks()
DATA_PARALLEL = CheckpointQuirks(strip_prefixes=("module.",))

# the training regimes `alignjax models --pool` reports
TRAINING_REGIMES = frozenset({
    "standard", "adversarial", "shape", "self-supervised", "semi-supervised", "weakly-supervised",
    "language-supervised", "brain-inspired", "large-scale",
})


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A named model: architecture, checkpoint source, its quirks as data, and expectations.

    Attributes:
      name: registry key (a Brain-Score identifier as ``brainscore/<id>``, a timm ``arch.tag`` ...).
      arch: a key of ``ARCHITECTURES``.
      source: where the checkpoint lives: ``hf://org/repo/file@<revision>``, ``https://...`` (a
        release file or a Google Drive link), ``bundled:<file>`` or a local path.
      num_classes: output classes.
      input_shape: (h, w, c) the model expects after preprocessing.
      sha256: hex digest of the checkpoint file when published, else None. Sources that are not pinned
        (no sha256, no torch-hub hash in the file name, no hub commit) are locked on first use
        (``alignjax.weights.verify``).
      quirks: the checkpoint's state-dict surgery (``CheckpointQuirks``).
      preprocessing: input transform.
      arch_kwargs: extra keyword arguments for the architecture builder (as sorted items).
      expected_clean_acc: published clean top-1 in percent, when one exists.
      expected_robust_acc: the published AutoAttack robust accuracy, for adversarially evaluated models.
      provenance: where the weights come from, paper and licence.
      family: the architecture family (``'resnet'``, ``'vit'`` ...), for the pool listing.
      training: the training regime, one of ``TRAINING_REGIMES``.
      brainscore_id: the model's identifier in Brain-Score's registry, where Brain-Score has it.
      aliases: other names that resolve to this entry (timm / torchvision / model-vs-human names).
      pools: named model pools the entry belongs to (``'paper'``: the paper's Brain-Score pool).
    """

    name: str
    arch: str
    source: str
    num_classes: int = 1000
    input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE
    sha256: str | None = None
    quirks: CheckpointQuirks = NO_QUIRKS
    preprocessing: Preprocessing = Preprocessing()
    arch_kwargs: tuple[tuple[str, Any], ...] = ()
    expected_clean_acc: float | None = None
    expected_robust_acc: RobustAccuracy | None = None
    provenance: str = ""
    family: str = ""
    training: str = "standard"
    brainscore_id: str | None = None
    aliases: tuple[str, ...] = ()
    pools: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.training not in TRAINING_REGIMES:
            raise ValueError(f"{self.name}: training {self.training!r} is not one of {sorted(TRAINING_REGIMES)}")

MODELS: dict[str, ModelSpec] = {}
ALIASES: dict[str, str] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    for name in (spec.name, *spec.aliases):
        if name in MODELS or name in ALIASES:
            raise ValueError(f"model name {name!r} is registered twice")
    MODELS[spec.name] = spec
    for alias in spec.aliases:
        ALIASES[alias] = spec.name
    return spec


def get_model_spec(name: str) -> ModelSpec:
    """The entry named ``name`` or aliased so; unknown names get the closest known ones."""
    if name in MODELS:
        return MODELS[name]
    if name in ALIASES:
        return MODELS[ALIASES[name]]
    import difflib

    close = difflib.get_close_matches(name, [*MODELS, *ALIASES], n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown model {name!r}{hint} (`alignjax models` lists all {len(MODELS)})") from None
