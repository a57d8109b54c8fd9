"""torchvision ShuffleNet-V2 state dicts -> ``alignjax.models.shufflenet``.

torch names (torchvision 0.28.0 ``torchvision/models/shufflenetv2.py``)::

    conv1.{0, 1}.*  conv5.{0, 1}.*  fc.{weight, bias}
    stage{2,3,4}.0.branch1.{0, 1, 2, 3}.*            depthwise 3x3/2, BN, 1x1, BN (stride-2 units only)
    stage{2,3,4}.{u}.branch2.{0, 1, 3, 4, 5, 6}.*    1x1, BN, depthwise 3x3, BN, 1x1, BN

The Flax modules mirror that tree, so the map is ``torchvision_cnn.rename_torch_cnn``
(``stage2.0.branch1.2.weight`` -> ``params/stage2_0/branch1_2/kernel``). torchvision's released files
(``shufflenetv2_x0.5-f707e7126e.pth``, ``shufflenetv2_x1-5666bf0f80.pth``, ported from
ericsun99/Shufflenet-v2-Pytorch; ``shufflenetv2_x1_5-3c479a10.pth``, ``shufflenetv2_x2_0-8be3c8ee.pth``)
carry these names: torchvision loads them with a strict ``load_state_dict`` and no renaming hook.
BatchNorm's ``num_batches_tracked``, which files saved before PyTorch 0.4.1 lack, is dropped either way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0")
def convert_shufflenet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a torchvision ShuffleNet-V2 state dict (unknown keys kept)."""
    return rename_torch_cnn(state_dict)
