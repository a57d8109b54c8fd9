"""EfficientNet: timm 1.0.31 ``tf_efficientnet_b0`` ... ``b7`` (``timm/models/efficientnet.py``, the TF ports:
SAME padding, BatchNorm eps 1e-3) and torchvision 0.28.0 ``efficientnet_b0`` / ``b1`` (registered as
``tv_efficientnet_b0`` / ``b1``). lukemelas' ``efficientnet_pytorch`` layout is compared in
``test_efficientnet.py``."""

from __future__ import annotations

from alignjax.models.efficientnet import EFFICIENTNET_STAGES
from tests.models.reference_builders import IMAGENET, from_timm, from_torchvision

# the checkpoints' input sizes (timm default_cfgs; torchvision's IMAGENET1K_V1 transforms)
_SIZES = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}

UPSTREAM = {
    **{f"tf_efficientnet_{v}": from_timm(f"tf_efficientnet_{v}", *IMAGENET, input_size=size, slow=v != "b0")
       for v, size in _SIZES.items()},
    "tv_efficientnet_b0": from_torchvision("efficientnet_b0"),
    "tv_efficientnet_b1": from_torchvision("efficientnet_b1", input_size=240, slow=True),
}

# the first four stages (both block kinds, 3x3 and 5x5, strides 1 and 2), one block each, a quarter of the
# widths (8 ... 24, head 320): one small program per padding kind. With all seven stages the random
# weights' uncalibrated BatchNorm statistics and SE gates shrink the input's share of the logits ~3x per
# block, and no attack moves the 32x32 model's predictions.
_SMALL = {"channel_multiplier": 0.25, "depth_multiplier": 0.1, "stages": EFFICIENTNET_STAGES[:4]}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_INPUT = {
    **{f"tf_efficientnet_{v}": (size, size, 3) for v, size in _SIZES.items() if size != 224},
    "tv_efficientnet_b1": (240, 240, 3),
}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"tf_efficientnet_b0", "tv_efficientnet_b0"}

# every variant's small model is the same program as its form's B0 (tf_ / tv_): one attack run each by default
ATTACK_SLOW = REAL_SIZE_SLOW
