"""PyTorch twins of alignjax models, for cross-checks against the reference (tests only).

The digits CNN's twin lives in ``alignjax.crosscheck.torch_models`` (``alignjax crosscheck`` runs the
reference on it); it is re-exported here under its old names.
"""

from __future__ import annotations

import numpy as np
import torch

from alignjax.crosscheck.torch_models import digits_cnn_class, digits_cnn_torch

DigitsCNNTorch = digits_cnn_class()  # same maths as alignjax.models.small_cnn.SmallCNN; takes NCHW

__all__ = ["DigitsCNNTorch", "digits_cnn_torch", "nchw_to_nhwc", "nhwc_to_nchw"]


def nhwc_to_nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(np.transpose(np.asarray(x, np.float32), (0, 3, 1, 2))))  # writable copy


def nchw_to_nhwc(x: torch.Tensor) -> np.ndarray:
    return np.transpose(x.detach().cpu().numpy(), (0, 2, 3, 1))
