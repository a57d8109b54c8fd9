"""DenseNet (torchvision 0.28.0 ``torchvision/models/densenet.py``)."""

from __future__ import annotations

from tests.models.reference_builders import from_torchvision

UPSTREAM = {
    "densenet121": from_torchvision("densenet121"),
    "densenet161": from_torchvision("densenet161", slow=True),
    "densenet169": from_torchvision("densenet169", slow=True),
    "densenet201": from_torchvision("densenet201", slow=True),
}

# one layer per block, growth 8: one small program for every variant
_SMALL = {"block_config": (1, 1, 1, 1), "growth_rate": 8, "num_init_features": 16}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"densenet121"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
