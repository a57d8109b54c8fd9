"""MobileNet-V2 and MobileNet-V3 (torchvision 0.28.0 ``torchvision/models/mobilenetv2.py``,
``mobilenetv3.py``)."""

from __future__ import annotations

from alignjax.models.mobilenet import block_config
from tests.models.reference_builders import from_torchvision

UPSTREAM = {
    "mobilenet_v2": from_torchvision("mobilenet_v2"),
    "mobilenet_v3_large": from_torchvision("mobilenet_v3_large", slow=True),
    "mobilenet_v3_small": from_torchvision("mobilenet_v3_small"),
}

# a t=1 block, a stride-2 block and a residual one; last 1x1 conv to 32 instead of 1280
_SMALL_V2 = {"inverted_residual_setting": ((1, 8, 1, 1), (6, 16, 2, 2)), "last_channel": 32}
# a block without expansion (SE, ReLU, stride 2) and a residual one (expansion, hard swish, 5x5)
_SMALL_V3 = {
    "inverted_residual_setting": (
        block_config(16, 3, 16, 16, True, "RE", 2, 1),
        block_config(16, 5, 32, 16, False, "HS", 1, 1),
    ),
    "last_channel": 32,
}
SMALL = {
    "mobilenet_v2": (_SMALL_V2, (32, 32, 3)),
    "mobilenet_v3_large": (_SMALL_V3, (32, 32, 3)),
    "mobilenet_v3_small": (_SMALL_V3, (32, 32, 3)),
}

REAL_SIZE_SLOW = frozenset({"mobilenet_v3_large"})
