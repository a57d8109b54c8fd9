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

from tests.models import families
from tests.models.reference_builders import (
    IMAGENET,
    INCEPTION,
    Reference,
    autoattack_resnet18,
    cifar_reference,
    from_robustbench,
    from_timm,
    from_torchvision,
)

RB = "RobustBench model_zoo/architectures/"

UPSTREAM: dict[str, Reference] = {
    "resnet18": from_torchvision("resnet18"),
    "resnet34": from_torchvision("resnet34", slow=True),
    "resnet50": from_torchvision("resnet50", batch=2),
    "resnet101": from_torchvision("resnet101", slow=True),
    "resnet152": from_torchvision("resnet152", slow=True),
    "wide_resnet50_2": from_torchvision("wide_resnet50_2", slow=True),
    "alexnet": from_torchvision("alexnet"),
    # 112 px: 3x3 features that the (7, 7) adaptive pool spreads over overlapping bins (at 224 px it is
    # the identity); a quarter of the time
    "vgg16": from_torchvision("vgg16", input_size=112),
    "vgg16_bn": from_torchvision("vgg16_bn", input_size=112),
    "vit_small_patch16_224": from_timm("vit_small_patch16_224", *INCEPTION, slow=True),
    "vit_base_patch16_224": from_timm("vit_base_patch16_224", *INCEPTION),
    "deit_tiny_patch16_224": from_timm("deit_tiny_patch16_224", *IMAGENET, slow=True),
    "deit_small_patch16_224": from_timm("deit_small_patch16_224", *IMAGENET, slow=True),
    "deit_base_patch16_224": from_timm("deit_base_patch16_224", *IMAGENET, slow=True),
    "deit_base_distilled_patch16_224": from_timm("deit_base_distilled_patch16_224", *IMAGENET),
    "convnext_tiny": from_timm("convnext_tiny", *IMAGENET),
    "convnext_small": from_timm("convnext_small", *IMAGENET, slow=True),
    "convnext_base": from_timm("convnext_base", *IMAGENET, slow=True),
    "cifar_resnet18": cifar_reference(autoattack_resnet18, "pyautoattack.examples.resnet.ResNet18()", batch=2),
    "preact_resnet18": cifar_reference(
        from_robustbench("resnet", lambda m: m.PreActResNet18()), RB + "resnet.py PreActResNet18()"
    ),
    "preact_resnet18_v2_bn": cifar_reference(
        from_robustbench("resnet", lambda m: m.PreActResNet(m.PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True)),
        RB + "resnet.py PreActResNet(PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True)",
    ),
    "wrn_28_10": cifar_reference(
        from_robustbench("wide_resnet", lambda m: m.WideResNet(28, widen_factor=10)),
        RB + "wide_resnet.py WideResNet(28, widen_factor=10)",
    ),
    "wrn_34_10": cifar_reference(
        from_robustbench("wide_resnet", lambda m: m.WideResNet(34, widen_factor=10)),
        RB + "wide_resnet.py WideResNet(34, widen_factor=10)",
        slow=True,
    ),
    "wrn_70_16": cifar_reference(
        from_robustbench("wide_resnet", lambda m: m.WideResNet(70, widen_factor=16)),
        RB + "wide_resnet.py WideResNet(70, widen_factor=16)",
        slow=True,
    ),
    "dm_wrn_28_10": cifar_reference(
        from_robustbench("dm_wide_resnet", lambda m: m.DMWideResNet(depth=28, width=10, activation_fn=m.Swish)),
        RB + "dm_wide_resnet.py DMWideResNet(depth=28, width=10, activation_fn=Swish)",
    ),
    "dm_wrn_70_16": cifar_reference(
        from_robustbench("dm_wide_resnet", lambda m: m.DMWideResNet(depth=70, width=16, activation_fn=m.Swish)),
        RB + "dm_wide_resnet.py DMWideResNet(depth=70, width=16, activation_fn=Swish)",
        slow=True,
    ),
}

# the per-family tables (tests/models/families/*.py) add theirs
for _arch, _reference in families.collect("UPSTREAM").items():
    if _arch in UPSTREAM:
        raise ValueError(f"{_arch!r} has two upstream references")
    UPSTREAM[_arch] = _reference

REWRITTEN = frozenset({"cornet_z", "cornet_s", "voneresnet50"}) | frozenset(families.collect("REWRITTEN"))
OWN = frozenset({"small_cnn"})
