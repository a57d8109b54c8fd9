"""Antialiased ResNets (Zhang 2019; antialiased-cnns 0.3, filter size 4 as its ``_lpf4_finetune`` weights)."""

from __future__ import annotations

from tests.models import helpers
from tests.models.reference_builders import Reference


def antialiased(name: str, *, slow: bool = False) -> Reference:
    def build():
        import antialiased_cnns

        return getattr(antialiased_cnns, name)(pretrained=False, filter_size=4)

    return Reference(
        build=build,
        source=f"antialiased_cnns.{name}(pretrained=False, filter_size=4)",
        input_size=224,
        mean=helpers.IMAGENET_MEAN,
        std=helpers.IMAGENET_STD,
        slow=slow,
    )


UPSTREAM = {
    "antialiased_resnet50": antialiased("resnet50"),
    "antialiased_resnet152": antialiased("resnet152", slow=True),
    "antialiased_resnext101_32x8d": antialiased("resnext101_32x8d", slow=True),
}

# one block per stage; 4 groups of 4 features for every variant (one small program)
_SMALL = {"width": 8, "stage_sizes": (1, 1, 1, 1), "groups": 4, "width_per_group": 32}
SMALL = {arch: (_SMALL, (64, 64, 3)) for arch in UPSTREAM}  # reflect padding needs 4x4 before layer4

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"antialiased_resnet50"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
