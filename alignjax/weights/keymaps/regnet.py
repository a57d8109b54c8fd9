"""torchvision RegNet state dicts -> ``alignjax.models.regnet``.

torch names (torchvision 0.28.0 ``torchvision/models/regnet.py``; ``Conv2dNormActivation`` is a
``Sequential`` of conv ``0`` and BatchNorm ``1``)::

    stem.{0, 1}.*   fc.{weight, bias}
    trunk_output.block{s}.block{s}-{i}.proj.{0, 1}.*          (first block of a stage, where needed)
    trunk_output.block{s}.block{s}-{i}.f.{a, b, c}.{0, 1}.*
    trunk_output.block{s}.block{s}-{i}.f.se.{fc1, fc2}.{weight, bias}   (RegNetY)

The Flax module tree has the same names with indices joined by ``_`` (``f.a.0`` -> ``f/a_0``), so the
map is ``torchvision_cnn.rename_torch_cnn``: the grouped 3x3 kernels (out, in / groups, 3, 3) become
(3, 3, in / groups, out), which is what ``flax.linen.Conv(feature_group_count=groups)`` stores. The
released files (``regnet_y_400mf-c65dace8.pth`` ..., ``regnet_y_16gf_swag-43afe44d.pth`` ...) are plain
state dicts in these names.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.models.regnet import REGNETS
from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter(*REGNETS)
def convert_regnet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a torchvision RegNet state dict (unknown keys kept for the strict check)."""
    return rename_torch_cnn(state_dict)
