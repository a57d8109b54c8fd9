"""antialiased-cnns 0.3 (adobe/antialiased-cnns) ResNet state dicts -> ``alignjax.models.antialiased``.

The torch names are torchvision's plus BlurPool entries in ``Sequential``s: ``maxpool.1.filt``,
``layer{s}.0.conv3.{0.filt, 1.weight}``, ``layer{s}.0.downsample.{0.filt, 1.weight, 2.*}``. The
``filt`` buffers are the fixed binomial filters (the Flax module computes them), so they are dropped
when they are the 4x4 filter of the registered ``filter_size=4`` architectures; any other ``filt`` (a
checkpoint of another filter size) is passed through for the strict check to report. Everything else
goes through ``torchvision_cnn.rename_torch_cnn``. The released ``.pth.tar`` files
hold ``{'state_dict': ...}``: unwrap that before converting.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn

_TAPS = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0
_FILTER4 = np.outer(_TAPS, _TAPS)


def _is_filter4(name: str, value: np.ndarray) -> bool:
    value = np.asarray(value)
    return name.endswith(".filt") and value.shape[1:] == (1, 4, 4) and np.allclose(value, _FILTER4[None, None])


@register_converter("antialiased_resnet50", "antialiased_resnet152", "antialiased_resnext101_32x8d")
def convert_antialiased_resnet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drops the 4x4 BlurPool ``filt`` buffers, then renames and transposes as for torchvision ResNets."""
    return rename_torch_cnn({k: v for k, v in state_dict.items() if not _is_filter4(k, v)})
