"""ShuffleNet-V2 (torchvision 0.28.0 ``torchvision/models/shufflenetv2.py``)."""

from __future__ import annotations

from tests.models.reference_builders import from_torchvision

UPSTREAM = {
    "shufflenet_v2_x0_5": from_torchvision("shufflenet_v2_x0_5"),
    "shufflenet_v2_x1_0": from_torchvision("shufflenet_v2_x1_0", slow=True),
    "shufflenet_v2_x1_5": from_torchvision("shufflenet_v2_x1_5", slow=True),
    "shufflenet_v2_x2_0": from_torchvision("shufflenet_v2_x2_0", slow=True),
}

# one stride-2 unit per stage and one stride-1 unit in stage 3: one small program for every variant
_SMALL = {"stages_repeats": (1, 2, 1), "stages_out_channels": (8, 16, 32, 64, 64)}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"shufflenet_v2_x0_5"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
