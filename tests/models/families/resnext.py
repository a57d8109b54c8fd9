"""ResNeXt (torchvision ``resnext50_32x4d``, ``resnext101_32x8d``, ``resnext101_64x4d``) and the WSL
ResNeXt-101 32x{16,32,48}d (facebookresearch/WSL-Images: torchvision's ``ResNet(Bottleneck, [3, 4, 23, 3],
groups=32, width_per_group=16 | 32 | 48)``)."""

from __future__ import annotations

from tests.models import helpers
from tests.models.reference_builders import Reference, from_torchvision


def wsl_resnext(width_per_group: int, *, slow: bool = True) -> Reference:
    """torchvision's ResNet class with the WSL models' groups and widths (their hub entry points build it)."""

    def build():
        resnet = helpers.torchvision_models().resnet
        return resnet.ResNet(resnet.Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=width_per_group)

    return Reference(
        build=build,
        source=f"torchvision ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group={width_per_group})",
        input_size=224,
        mean=helpers.IMAGENET_MEAN,
        std=helpers.IMAGENET_STD,
        slow=slow,
    )


UPSTREAM = {
    "resnext50_32x4d": from_torchvision("resnext50_32x4d"),
    "resnext101_32x8d": from_torchvision("resnext101_32x8d", slow=True),
    "resnext101_64x4d": from_torchvision("resnext101_64x4d", slow=True),
    "resnext101_32x16d": wsl_resnext(16),
    "resnext101_32x32d": wsl_resnext(32),
    "resnext101_32x48d": wsl_resnext(48),
}

# one block per stage, 4 groups of 4 features in layer1 (the registered groups and widths would leave
# no feature per group at width 8): one small program for every variant
_SMALL = {"width": 8, "stage_sizes": (1, 1, 1, 1), "groups": 4, "width_per_group": 32}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"resnext50_32x4d"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
