"""Former home of the re-written timm / dicarlolab references, kept for tests outside ``tests/models``
that still import ``CORnetZ`` ... and ``randomize_`` from here (``tests/weights``, ``tests/alignment``).

``tests/models`` compares with timm's own modules now (``tests/models/references.py``); the CORnet and
VOneNet references live in ``tests/models/torch_reference_brain.py`` and are re-exported below. New
tests should use ``tests/models/helpers.py``; delete this module once nothing imports it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tests.models.torch_reference_brain import CORnetS, CORnetZ, VOneBlock, VOneResNet50

__all__ = ["CORnetS", "CORnetZ", "VOneBlock", "VOneResNet50", "count_parameters", "randomize_",
           "state_dict_numpy"]


# ----------------------------------------------------------------------------------------- helpers


def randomize_(model: nn.Module, seed: int = 0, scale: float = 0.5) -> nn.Module:
    """Fills every parameter and BatchNorm buffer with seeded random values (eval-mode stats non-trivial)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked") or "simple_conv_q" in name:
                continue
            if name in ("cls_token", "dist_token", "pos_embed"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.dim() >= 2:
                fan_in = math.prod(tensor.shape[1:])
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / math.sqrt(fan_in))
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale)
    return model.eval()


def state_dict_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}  # no aliasing


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
