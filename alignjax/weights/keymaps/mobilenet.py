"""torchvision MobileNet-V2 / MobileNet-V3 state dicts -> ``alignjax.models.mobilenet``.

torch names (torchvision 0.28.0 ``torchvision/models/mobilenetv2.py``, ``mobilenetv3.py``)::

    MobileNetV2  features.0.{0, 1}.*                     stem conv, BN
                 features.{i}.conv.{j}.{0, 1}.*          expansion / depthwise Conv2dNormActivation
                 features.{i}.conv.{k}.weight            linear 1x1 projection, then its BN conv.{k+1}.*
                 features.18.{0, 1}.*                    last 1x1 conv, BN
                 classifier.1.{weight, bias}
    MobileNetV3  features.{0, 16 | 12}.{0, 1}.*          stem and last 1x1 conv, BN
                 features.{i}.block.{j}.{0, 1}.*         expansion / depthwise / projection conv, BN
                 features.{i}.block.{j}.{fc1, fc2}.*     squeeze-and-excitation 1x1 convs (with bias)
                 classifier.{0, 3}.{weight, bias}

The Flax modules mirror that tree, so the map is ``torchvision_cnn.rename_torch_cnn``
(``features.2.conv.1.0.weight`` -> ``params/features_2/conv_1_0/kernel``). torchvision's released files
(``mobilenet_v2-b0353104.pth``, ``mobilenet_v2-7ebf99e0.pth``, ``mobilenet_v3_large-8738ca79.pth``,
``mobilenet_v3_large-5c1a4163.pth``, ``mobilenet_v3_small-047dcff4.pth``) carry these names:
torchvision loads them with a strict ``load_state_dict`` and no renaming hook.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")
def convert_mobilenet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a torchvision MobileNet-V2/V3 state dict (unknown keys kept)."""
    return rename_torch_cnn(state_dict)
