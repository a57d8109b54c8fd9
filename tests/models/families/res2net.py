"""Res2Net (timm 1.0.31 ``timm/models/res2net.py``)."""

from __future__ import annotations

from tests.models.reference_builders import IMAGENET, from_timm

UPSTREAM = {
    "res2net50_26w_4s": from_timm("res2net50_26w_4s", *IMAGENET),
    "res2net50_14w_8s": from_timm("res2net50_14w_8s", *IMAGENET, slow=True),
    "res2net50_26w_6s": from_timm("res2net50_26w_6s", *IMAGENET, slow=True),
    "res2net50_26w_8s": from_timm("res2net50_26w_8s", *IMAGENET, slow=True),
    "res2net50_48w_2s": from_timm("res2net50_48w_2s", *IMAGENET, slow=True),
    "res2net101_26w_4s": from_timm("res2net101_26w_4s", *IMAGENET, slow=True),
}

# one block per stage, 4 scales of 4 features in layer1: one small program for every variant
_SMALL = {"width": 16, "stage_sizes": (1, 1, 1, 1), "base_width": 16, "scale": 4}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"res2net50_26w_4s"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
