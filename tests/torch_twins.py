"""PyTorch twins of alignjax models, for cross-checks against the reference (tests only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class DigitsCNNTorch(nn.Module):
    """Same maths as alignjax.models.small_cnn.SmallCNN; takes NCHW like the reference expects."""

    def __init__(self, widths=(16, 32), hidden=64, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, padding=1)
        self.conv2 = nn.Conv2d(widths[0], widths[1], 3, padding=1)
        self.fc1 = nn.Linear(4 * 4 * widths[1], hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten in NHWC order, as Flax does
        return self.fc2(torch.relu(self.fc1(x)))


def digits_cnn_torch(variables: dict[str, Any]) -> DigitsCNNTorch:
    """A DigitsCNNTorch in eval mode holding the given Flax variables."""
    p = variables["params"]
    model = DigitsCNNTorch(
        widths=(p["conv1"]["kernel"].shape[-1], p["conv2"]["kernel"].shape[-1]),
        hidden=p["fc1"]["kernel"].shape[-1],
        num_classes=p["fc2"]["kernel"].shape[-1],
    )
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
    with torch.no_grad():
        for name in ("conv1", "conv2"):
            getattr(model, name).weight.copy_(t(np.transpose(p[name]["kernel"], (3, 2, 0, 1))))
            getattr(model, name).bias.copy_(t(p[name]["bias"]))
        for name in ("fc1", "fc2"):
            getattr(model, name).weight.copy_(t(np.transpose(p[name]["kernel"])))
            getattr(model, name).bias.copy_(t(p[name]["bias"]))
    return model.eval()


def nhwc_to_nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(np.transpose(np.asarray(x, np.float32), (0, 3, 1, 2))))  # writable copy


def nchw_to_nhwc(x: torch.Tensor) -> np.ndarray:
    return np.transpose(x.detach().cpu().numpy(), (0, 2, 3, 1))
