"""The reference torch module of every registered architecture (tests only).

``UPSTREAM``: architectures whose reference is installable upstream code, built at full size with its
random initialisation (``helpers.randomize`` then replaces every weight):

- torchvision 0.28.0 ``torchvision.models.<name>()``: ResNet-18/34/50/101/152, Wide ResNet-50-2,
  AlexNet, VGG-16(-BN);
- timm 1.0.31 ``timm.create_model(name, pretrained=False)``: ViT-S/B, DeiT-Ti/S/B(-distilled),
  ConvNeXt-T/S/B, i.e. the pretrained configurations the zoo's checkpoints are loaded into;
- pyautoattack 0.2.0 ``pyautoattack.examples.resnet.ResNet18`` (= fra31/auto-attack@a392200);
- RobustBench 1.1.1 (``RobustBench/robustbench@78fcc9e``), ``model_zoo/architectures/{resnet,
  wide_resnet,dm_wide_resnet}.py``: ``PreActResNet``, ``WideResNet``, ``DMWideResNet`` (Swish), loaded
  by path when installed (``pip install --no-deps robustbench==1.1.1``), else the re-written stand-in
  ``torch_reference_robustbench.py``, checked equal to it wherever both exist.

``REWRITTEN``: no installable upstream exists (dicarlolab's CORnet and VOneNet are not on the
package index); ``torch_reference_brain.py`` re-writes them from their repositories at a named commit.
``OWN``: alignjax's own architectures, whose reference is alignjax itself (``tests/torch_twins.py``).

``slow`` marks the full-size comparisons left to ``-m slow`` because they take long on CPU; each of
them shares its code path (block types, converter, key names) with a full-size comparison of the
default run, differs from it only in depth/width/normalisation defaults, and those are checked on the
full size in the default run too (parameter counts against upstream, normalisation against timm's
``pretrained_cfg``).
"""

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


def _torchvision(name: str, *, input_size: int = 224, batch: int = 1, slow: bool = False) -> Reference:
    return Reference(
        build=lambda: getattr(helpers.torchvision_models(), name)(),
        source=f"torchvision.models.{name}()",
        input_size=input_size,
        mean=helpers.IMAGENET_MEAN,
        std=helpers.IMAGENET_STD,
        batch=batch,
        slow=slow,
    )


def _timm(name: str, mean: tuple[float, ...], std: tuple[float, ...], *, slow: bool = False) -> Reference:
    return Reference(
        build=lambda: helpers.timm_module().create_model(name, pretrained=False),
        source=f"timm.create_model({name!r}, pretrained=False)",
        input_size=224,
        mean=mean,
        std=std,
        slow=slow,
    )


def _robustbench(file: str, construct: Callable[[ModuleType], nn.Module]) -> Callable[[], nn.Module]:
    """``construct(<RobustBench's architectures/<file>.py module>)``, loaded when called."""
    return lambda: construct(helpers.robustbench_architecture(file))


def _cifar(build: Callable[[], nn.Module], source: str, *, batch: int = 1, slow: bool = False) -> Reference:
    return Reference(build=build, source=source, input_size=32, batch=batch, slow=slow)


def _autoattack_resnet18() -> nn.Module:
    from pyautoattack.examples.resnet import ResNet18

    return ResNet18()


IMAGENET, INCEPTION = (
    (helpers.IMAGENET_MEAN, helpers.IMAGENET_STD),
    (helpers.INCEPTION_MEAN, helpers.INCEPTION_STD),
)
RB = "RobustBench model_zoo/architectures/"

UPSTREAM: dict[str, Reference] = {
    "resnet18": _torchvision("resnet18"),
    "resnet34": _torchvision("resnet34", slow=True),
    "resnet50": _torchvision("resnet50", batch=2),
    "resnet101": _torchvision("resnet101", slow=True),
    "resnet152": _torchvision("resnet152", slow=True),
    "wide_resnet50_2": _torchvision("wide_resnet50_2", slow=True),
    "alexnet": _torchvision("alexnet"),
    # 112 px: 3x3 features that the (7, 7) adaptive pool spreads over overlapping bins (at 224 px it is
    # the identity); a quarter of the time
    "vgg16": _torchvision("vgg16", input_size=112),
    "vgg16_bn": _torchvision("vgg16_bn", input_size=112),
    "vit_small_patch16_224": _timm("vit_small_patch16_224", *INCEPTION, slow=True),
    "vit_base_patch16_224": _timm("vit_base_patch16_224", *INCEPTION),
    "deit_tiny_patch16_224": _timm("deit_tiny_patch16_224", *IMAGENET, slow=True),
    "deit_small_patch16_224": _timm("deit_small_patch16_224", *IMAGENET, slow=True),
    "deit_base_patch16_224": _timm("deit_base_patch16_224", *IMAGENET, slow=True),
    "deit_base_distilled_patch16_224": _timm("deit_base_distilled_patch16_224", *IMAGENET),
    "convnext_tiny": _timm("convnext_tiny", *IMAGENET),
    "convnext_small": _timm("convnext_small", *IMAGENET, slow=True),
    "convnext_base": _timm("convnext_base", *IMAGENET, slow=True),
    "cifar_resnet18": _cifar(_autoattack_resnet18, "pyautoattack.examples.resnet.ResNet18()", batch=2),
    "preact_resnet18": _cifar(
        _robustbench("resnet", lambda m: m.PreActResNet18()), RB + "resnet.py PreActResNet18()"
    ),
    "preact_resnet18_v2_bn": _cifar(
        _robustbench("resnet", lambda m: m.PreActResNet(m.PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True)),
        RB + "resnet.py PreActResNet(PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True)",
    ),
    "wrn_28_10": _cifar(
        _robustbench("wide_resnet", lambda m: m.WideResNet(28, widen_factor=10)),
        RB + "wide_resnet.py WideResNet(28, widen_factor=10)",
    ),
    "wrn_34_10": _cifar(
        _robustbench("wide_resnet", lambda m: m.WideResNet(34, widen_factor=10)),
        RB + "wide_resnet.py WideResNet(34, widen_factor=10)",
        slow=True,
    ),
    "wrn_70_16": _cifar(
        _robustbench("wide_resnet", lambda m: m.WideResNet(70, widen_factor=16)),
        RB + "wide_resnet.py WideResNet(70, widen_factor=16)",
        slow=True,
    ),
    "dm_wrn_28_10": _cifar(
        _robustbench("dm_wide_resnet", lambda m: m.DMWideResNet(depth=28, width=10, activation_fn=m.Swish)),
        RB + "dm_wide_resnet.py DMWideResNet(depth=28, width=10, activation_fn=Swish)",
    ),
    "dm_wrn_70_16": _cifar(
        _robustbench("dm_wide_resnet", lambda m: m.DMWideResNet(depth=70, width=16, activation_fn=m.Swish)),
        RB + "dm_wide_resnet.py DMWideResNet(depth=70, width=16, activation_fn=Swish)",
        slow=True,
    ),
}

REWRITTEN = frozenset({"cornet_z", "cornet_s", "voneresnet50"})
OWN = frozenset({"small_cnn"})
