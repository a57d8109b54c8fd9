"""BiT ResNet-V2 (timm 1.0.31 ``timm/models/resnetv2.py``, ``resnetv2_*_bit``).

timm's head is a 1x1 conv; ``helpers.randomize`` scales the logits through the ``Linear`` layers that
produce them, so the references swap that conv for ``PooledLinear`` (the same weights as an (n, c)
matrix, the same maths on the pooled (b, c, 1, 1) features). The conv layout itself is converted and
compared in ``test_bit.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from tests.models.reference_builders import INCEPTION, Reference, from_timm


class PooledLinear(nn.Linear):
    """A ``Linear`` on (b, c, 1, 1) pooled features returning (b, n, 1, 1): timm's 1x1 head conv."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))[:, :, None, None]


def with_linear_head(model: nn.Module) -> nn.Module:
    conv = model.head.fc
    linear = PooledLinear(conv.in_channels, conv.out_channels, device=conv.weight.device)
    with torch.no_grad():
        linear.weight.copy_(conv.weight[:, :, 0, 0])
        linear.bias.copy_(conv.bias)
    model.head.fc = linear
    return model


def bit(name: str, *, slow: bool = True) -> Reference:
    timm_reference = from_timm(name, *INCEPTION, slow=slow)
    return Reference(
        build=lambda: with_linear_head(timm_reference.build()),
        source=f"{timm_reference.source} with its 1x1 head conv as a Linear",
        input_size=224,
        mean=timm_reference.mean,
        std=timm_reference.std,
        slow=slow,
    )


UPSTREAM = {
    "resnetv2_50x1_bit": bit("resnetv2_50x1_bit", slow=False),
    "resnetv2_50x3_bit": bit("resnetv2_50x3_bit"),
    "resnetv2_101x1_bit": bit("resnetv2_101x1_bit"),
    "resnetv2_101x3_bit": bit("resnetv2_101x3_bit"),
    "resnetv2_152x2_bit": bit("resnetv2_152x2_bit"),
    "resnetv2_152x4_bit": bit("resnetv2_152x4_bit"),
}

# one block per stage, narrow, GroupNorm with 8 groups: one small program for every variant
_SMALL = {
    "stage_sizes": (1, 1, 1, 1), "width_factor": 1, "channels": (32, 64, 128, 256), "stem_features": 16, "num_groups": 8,
}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

# the default pretrained tags' input sizes (timm pretrained_cfg): 224 for the distilled 50x1 and the
# 152x2 teacher, 448 for the in21k -> in1k fine-tunes, 480 for 152x4
REAL_INPUT = {
    "resnetv2_50x3_bit": (448, 448, 3),
    "resnetv2_101x1_bit": (448, 448, 3),
    "resnetv2_101x3_bit": (448, 448, 3),
    "resnetv2_152x4_bit": (480, 480, 3),
}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"resnetv2_50x1_bit"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
