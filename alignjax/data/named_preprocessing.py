"""Input protocols by name, for the command line and ``attack_data``: ``--preprocessing NAME``.

Each name maps to a transform of ``preprocessing.py`` (PIL image -> PIL image, then uint8); none of them
normalises (the models do). The names:

- ``none``: images used as they are (all must have one size), as RobustBench does for CIFAR;
- ``Res256Crop224``, ``BicubicRes256Crop224``, ``Crop288``, ``Res224``: RobustBench's ImageNet presets
  (``robustbench/data.py::PREPROCESSINGS``);
- ``model``: the named model's own evaluation transform (its ``ModelSpec.preprocessing``: shorter side
  to ``resize``, centre crop ``crop``, its interpolation; timm/torchvision eval); the default when a
  registry model is named;
- ``brainscore``: Brain-Score's ``Resize((S, S))`` (bilinear) with S the model's input size (the
  registry entry's, else the architecture's, else 224);
- ``brainscore-geirhos``: Brain-Score for the Geirhos2021 stimuli: the image shown at 3 of the model's
  8 visual degrees on a gray screen, then ``Resize((S, S))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignjax.data.preprocessing import (
    ROBUSTBENCH_PRESETS,
    Transform,
    brainscore_transform,
    identity,
    robustbench_transform,
    spec_transform,
)

if TYPE_CHECKING:  # the data layer does not import the model package at run time
    from alignjax.models.registry import ModelSpec

GEIRHOS_VISUAL_DEGREES = 3.0
BRAINSCORE_DEFAULT_SIZE = 224

PREPROCESSING_NAMES: dict[str, str] = {
    "none": "images as they are (one size for all), e.g. CIFAR",
    **{
        str(name): f"RobustBench ImageNet preset {name}"
        for name in ROBUSTBENCH_PRESETS
        if name is not None
    },
    "model": "the named model's own eval transform (resize + centre crop of its spec)",
    "brainscore": "Brain-Score: Resize((S, S)) bilinear, S = the model's input size (224 without a spec)",
    "brainscore-geirhos": "Brain-Score, Geirhos2021 stimuli: 3 of 8 visual degrees on gray, then Resize((S, S))",
}


def default_preprocessing(spec: ModelSpec | None) -> str:
    """'model' for a registry model (its own protocol), else 'none'."""
    return "model" if spec is not None else "none"


def named_transform(name: str, *, spec: ModelSpec | None = None, image_size: int | None = None) -> Transform:
    """The transform called ``name`` (see the module docstring); ``spec`` is the model's, when named;
    ``image_size`` the input side of a model without one (for 'brainscore'; default 224).

    Raises:
      ValueError: an unknown name (listing the known ones), or 'model' without a spec.
    """
    if name not in PREPROCESSING_NAMES:
        known = ", ".join(PREPROCESSING_NAMES)
        raise ValueError(f"unknown preprocessing {name!r}; known: {known}")
    if name == "none":
        return identity
    if name == "model":
        if spec is None:
            raise ValueError(
                "preprocessing 'model' needs a registry model (--model NAME); "
                f"with --arch pick a protocol: {', '.join(PREPROCESSING_NAMES)}"
            )
        return spec_transform(spec.preprocessing)
    if name.startswith("brainscore"):
        size = spec.input_shape[0] if spec is not None else (image_size or BRAINSCORE_DEFAULT_SIZE)
        degrees = GEIRHOS_VISUAL_DEGREES if name == "brainscore-geirhos" else None
        return brainscore_transform(size, source_degrees=degrees)
    return robustbench_transform(name)
