"""torchvision DenseNet state dicts -> ``alignjax.models.densenet``.

torch names (torchvision 0.28.0 ``torchvision/models/densenet.py``)::

    features.{conv0, norm0, norm5}.*   classifier.{weight, bias}
    features.denseblock{b}.denselayer{l}.{norm1, conv1, norm2, conv2}.*
    features.transition{b}.{norm, conv}.*

torchvision's released files (``densenet121-a639ec97.pth`` ... , ported from LuaTorch) still carry
the old dense-layer names ``norm.1``, ``relu.1``, ``conv.1``, ``norm.2``, ``conv.2``, which
torchvision's ``_load_state_dict`` renames to ``norm1`` ... on loading; this converter does the same
(``_OLD_LAYER_NAME``), so both spellings load. ``module.`` prefixes (DataParallel saves) are stripped.
Then the map is ``torchvision_cnn.rename_torch_cnn``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn

# the dense-layer names of torchvision's released files: 'denselayer3.norm.1.weight' -> 'denselayer3.norm1.weight'
_OLD_LAYER_NAME = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var))$")


def modern_densenet_names(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Strips ``module.`` and renames the released files' ``norm.1`` / ``conv.1`` keys as torchvision does."""
    out = {}
    for name, value in state_dict.items():
        name = name.removeprefix("module.")
        out[_OLD_LAYER_NAME.sub(r"\1\2", name)] = value
    return out


@register_converter("densenet121", "densenet161", "densenet169", "densenet201")
def convert_densenet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a torchvision DenseNet state dict, old or new names (unknown keys kept)."""
    return rename_torch_cnn(modern_densenet_names(state_dict))
