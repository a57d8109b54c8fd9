"""How an upstream torch reference module is described and built (tests only): ``Reference`` and the
constructors for torchvision, timm, RobustBench and CIFAR references, shared by ``references.py`` and
the per-family tables in ``tests/models/families/``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType

from torch import nn

from tests.models import helpers


@dataclasses.dataclass(frozen=True)
class Reference:
    """How to build and feed the upstream module of one architecture.

    Attributes:
      build: full-size upstream module, as the architecture's registered defaults describe it.
      source: what ``build`` is, for messages.
      input_size: square input side for the comparison.
      mean, std: the normalisation the upstream module leaves to the data pipeline (the Flax module
        does it inside); None when the upstream module takes [0, 1] images.
      batch: images in the comparison.
      slow: the full-size comparison runs only with ``-m slow``.
    """

    build: Callable[[], nn.Module]
    source: str
    input_size: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    batch: int = 1
    slow: bool = False


def from_torchvision(name: str, *, input_size: int = 224, batch: int = 1, slow: bool = False) -> Reference:
    return Reference(
        build=lambda: getattr(helpers.torchvision_models(), name)(),
        source=f"torchvision.models.{name}()",
        input_size=input_size,
        mean=helpers.IMAGENET_MEAN,
        std=helpers.IMAGENET_STD,
        batch=batch,
        slow=slow,
    )


def from_timm(
    name: str,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    input_size: int = 224,
    batch: int = 1,
    slow: bool = False,
    **kwargs: object,
) -> Reference:
    """``timm.create_model(name, pretrained=False, **kwargs)``."""
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return Reference(
        build=lambda: helpers.timm_module().create_model(name, pretrained=False, **kwargs),
        source=f"timm.create_model({name!r}, pretrained=False{extra})",
        input_size=input_size,
        mean=mean,
        std=std,
        batch=batch,
        slow=slow,
    )


def from_robustbench(file: str, construct: Callable[[ModuleType], nn.Module]) -> Callable[[], nn.Module]:
    """``construct(<RobustBench's architectures/<file>.py module>)``, loaded when called."""
    return lambda: construct(helpers.robustbench_architecture(file))


def cifar_reference(build: Callable[[], nn.Module], source: str, *, batch: int = 1, slow: bool = False) -> Reference:
    return Reference(build=build, source=source, input_size=32, batch=batch, slow=slow)


def autoattack_resnet18() -> nn.Module:
    from pyautoattack.examples.resnet import ResNet18

    return ResNet18()


IMAGENET = (helpers.IMAGENET_MEAN, helpers.IMAGENET_STD)
INCEPTION = (helpers.INCEPTION_MEAN, helpers.INCEPTION_STD)
