"""torch -> Flax key map for the CIFAR CNNs: auto-attack's ResNet-18, RobustBench's PreActResNet-18
variants and WideResNets (the classic TRADES layout and DeepMind's ``DMWideResNet``).

The Flax modules in ``alignjax.models.{cifar_resnet,wide_resnet}`` mirror the torch module trees, so
the same mechanical rename as for torchvision applies (``shortcut.0`` -> ``shortcut_0``,
``block1.layer.3.convShortcut`` -> ``block1/layer_3/convShortcut``, ``layer.2.block.0.batchnorm_0`` ->
``layer_2/block_0/batchnorm_0``). Checkpoint quirks (e.g. the unused ``sub_block1`` of some TRADES
WRN-34-10 checkpoints, or DM's non-persistent ``mean``/``std`` buffers if a file carries them) belong
in the ``ModelSpec.convert`` of that checkpoint, which drops them before calling this converter.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter(
    "cifar_resnet18",
    "preact_resnet18",
    "preact_resnet18_v2_bn",
    "wrn_28_10",
    "wrn_34_10",
    "wrn_70_16",
    "dm_wrn_28_10",
    "dm_wrn_70_16",
)
def convert_cifar_cnn(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CIFAR ResNet / PreActResNet / WideResNet state dict -> flat Flax variables."""
    return rename_torch_cnn(state_dict)
