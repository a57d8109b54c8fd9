"""Two registries, filled at import: architectures (name -> Flax module builder) and named models.

An architecture builder takes ``num_classes`` and keyword options (``dtype`` among them) and returns
a ``flax.linen.Module`` whose ``apply({'params': ..., maybe 'batch_stats': ...}, x)`` maps NHWC images in
[0, 1] to logits; any input normalisation lives inside the module.

A named model is a ``ModelSpec``: where its checkpoint comes from, how to turn it into Flax params
(``convert``), how its inputs are preprocessed, and the clean accuracy it should reach. Quirks of a
checkpoint live in its spec's ``convert``, never in name lists inside the loader (the counter-example
is robustbench ``utils.load_model``).
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


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A named model: architecture, checkpoint source, conversion and expectations.

    Attributes:
      name: registry key.
      arch: a key of ``ARCHITECTURES``.
      num_classes: output classes.
      input_shape: (h, w, c) the model expects after preprocessing.
      source: where the checkpoint lives, e.g. ``hf://org/repo/file.safetensors@<revision>``,
        ``https://...`` (a release file or a Google Drive link) or ``bundled:digits_cnn.safetensors``.
      sha256: hex digest of the checkpoint file when known (verified on download), else None. The
        sha256 prefix of a torch-hub style file name in a URL source is verified as well.
      convert: ``state_dict (dict[str, np.ndarray]) -> flax variables``; owns all key surgery.
      preprocessing: input transform.
      arch_kwargs: extra keyword arguments for the architecture builder (as sorted items).
      expected_clean_acc: published clean accuracy in percent, when one exists.
      provenance: where the weights come from, paper and licence.
      checkpoint_key: the entry of the checkpoint that holds the weights, when automatic selection
        (``alignjax.weights.readers.select_state_dict``) would not find it (e.g. ``'last'``).
      expected_robust_acc: the published AutoAttack robust accuracy, for adversarially evaluated models.
    """

    name: str
    arch: str
    num_classes: int
    input_shape: tuple[int, int, int]
    source: str
    convert: Callable[[dict[str, Any]], dict[str, Any]]
    sha256: str | None = None
    preprocessing: Preprocessing = Preprocessing()
    arch_kwargs: tuple[tuple[str, Any], ...] = ()
    expected_clean_acc: float | None = None
    provenance: str = ""
    checkpoint_key: str | None = None
    expected_robust_acc: RobustAccuracy | None = None


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in MODELS:
        raise ValueError(f"model {spec.name!r} is registered twice")
    MODELS[spec.name] = spec
    return spec


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS)) or "(none)"
        raise KeyError(f"unknown model {name!r}; run `alignjax models` to list them ({known})") from None
