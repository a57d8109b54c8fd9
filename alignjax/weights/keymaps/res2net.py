"""timm Res2Net state dicts (and the original gasvn/Res2Net release files) -> ``alignjax.models.res2net``.

torch names (timm ``res2net.py`` on timm's ``ResNet``)::

    conv1.weight  bn1.*  fc.{weight, bias}
    layer{s}.{b}.{conv1, bn1, conv3, bn3}.*   layer{s}.{b}.convs.{i}.weight   layer{s}.{b}.bns.{i}.*
    layer{s}.0.downsample.{0 (conv1x1), 1 (BN)}.*

The original release (gasvn/Res2Net ``res2net.py``, e.g. ``res2net50_26w_4s-06e79181.pth``) uses the same
module names: timm's ``res2net50_26w_4s`` pointed at those files and loaded them without a filter
function. So the map is ``torchvision_cnn.rename_torch_cnn``; a ``module.`` prefix (DataParallel
saves) is stripped first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter(
    "res2net50_26w_4s", "res2net50_14w_8s", "res2net50_26w_6s", "res2net50_26w_8s", "res2net50_48w_2s",
    "res2net101_26w_4s",
)
def convert_res2net(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm / original Res2Net state dict (unknown keys kept for the strict check)."""
    return rename_torch_cnn({k.removeprefix("module."): v for k, v in state_dict.items()})
