"""torchvision GoogLeNet / Inception-v3 and timm Inception-v3 state dicts -> ``alignjax.models.inception``.

torch names (torchvision 0.28.0 ``googlenet.py`` / ``inception.py``; timm 1.0.31 ``inception_v3.py`` uses
Inception-v3's names unchanged)::

    GoogLeNet:    conv{1,2,3}.{conv, bn}.*   inception{3a..5b}.branch1.{conv, bn}.*
                  inception*.branch{2,3}.{0,1}.{conv, bn}.*   inception*.branch4.1.{conv, bn}.*   fc.*
                  aux{1,2}.{conv.{conv, bn}, fc1, fc2}.*      (training-only heads)
    Inception-v3: Conv2d_{1a_3x3, ...}.{conv, bn}.*   Mixed_{5b..7c}.branch*.{conv, bn}.*   fc.*
                  AuxLogits.{conv0, conv1}.{conv, bn}.*, AuxLogits.fc.*   (training-only head)

The auxiliary classifiers never run in eval mode and the Flax modules do not build them; torchvision's
released files carry them (``googlenet-1378be20.pth``, ``inception_v3_google-0cc3c7bd.pth``, and the
``-1a9a5a14`` file that timm's ``inception_v3.tv_in1k`` points to), so their keys are dropped here
(``_AUXILIARY``). ``module.`` prefixes are stripped; the rest is ``torchvision_cnn.rename_torch_cnn``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn

_AUXILIARY = ("aux1.", "aux2.", "AuxLogits.")


@register_converter("googlenet", "inception_v3")
def convert_inception(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a GoogLeNet / Inception-v3 state dict, without the auxiliary heads."""
    kept = {k.removeprefix("module."): v for k, v in state_dict.items()}
    return rename_torch_cnn({k: v for k, v in kept.items() if not k.startswith(_AUXILIARY)})
