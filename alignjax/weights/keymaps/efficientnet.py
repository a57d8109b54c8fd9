"""EfficientNet checkpoints -> ``alignjax.models.efficientnet``: timm's ``tf_efficientnet_b*`` state dicts,
lukemelas' ``efficientnet_pytorch`` files (layout ``'lukemelas_efficientnet'``) and torchvision's
``efficientnet_b0`` / ``b1``.

timm names (timm 1.0.31 ``timm/models/efficientnet.py``, ``_efficientnet_blocks.py``)::

    conv_stem.weight  bn1.*  conv_head.weight  bn2.*  classifier.{weight, bias}
    blocks.0.{j}.{conv_dw, bn1, se.conv_reduce, se.conv_expand, conv_pw, bn2}.*             (first stage)
    blocks.{s}.{j}.{conv_pw, bn1, conv_dw, bn2, se.conv_reduce, se.conv_expand, conv_pwl, bn3}.*

are the Flax tree's names: ``torchvision_cnn.rename_torch_cnn`` maps them.

lukemelas/EfficientNet-PyTorch (``efficientnet_pytorch`` 0.7.1 ``model.py``), whose ``efficientnet-b*``
and AdvProp ``adv-efficientnet-b*-<hash>.pth`` releases are TF ports of the same networks (SAME padding,
eps 1e-3), numbers its blocks over all stages (``_blocks.{i}``) and names the layers by their TF role::

    _conv_stem  _bn0                  -> conv_stem  bn1
    _blocks.{i}._expand_conv  _bn0    -> blocks.{s}.{j}.conv_pw  bn1        (absent in the first stage)
    _blocks.{i}._depthwise_conv  _bn1 -> conv_dw  bn2 (first stage: bn1)
    _blocks.{i}._se_reduce  _se_expand -> se.conv_reduce  se.conv_expand
    _blocks.{i}._project_conv  _bn2   -> conv_pwl  bn3 (first stage: conv_pw  bn2)
    _conv_head  _bn1  _fc             -> conv_head  bn2  classifier

The flat index ``i`` becomes ``(s, j)`` through the blocks per stage of ``arch`` at its registered
depth (``efficientnet.architecture_stages``), so a file loads into the variant it was made for; a
file with more blocks keeps the extra ones under their own names for the strict check to report.
One difference that no B0-B8 width reaches: lukemelas leaves out the identity of a stage's first block
even where its input and output widths match (its ``stride`` is a list there, never ``== 1``); timm and
the Flax model add it. In every released variant those widths differ (stem ``32w`` vs ``16w`` ...).

torchvision 0.28.0 (``torchvision/models/efficientnet.py``) keeps the stem in ``features.0``, stage
``s`` in ``features.{s + 1}``, the head conv in ``features.8`` and the classifier in ``classifier.1``;
a block is ``block.{k}``, a sequence of ``Conv2dNormActivation`` (``.0`` conv, ``.1`` BatchNorm) and
``SqueezeExcitation`` (``fc1``, ``fc2``): expansion (absent in the first stage), depthwise, SE,
projection, mapped in that order onto timm's names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.models.efficientnet import TF_EFFICIENTNETS, TV_EFFICIENTNETS, architecture_stages
from alignjax.weights.keymaps import get_converter, register_converter, register_layout
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn


@register_converter(*TF_EFFICIENTNETS)
def convert_timm_efficientnet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm ``tf_efficientnet_b*`` state dict (unknown keys kept)."""
    return rename_torch_cnn(state_dict)


# --- layout 'lukemelas_efficientnet' -------------------------------------------------------------------

_LUKEMELAS_TOP = {"_conv_stem.": "conv_stem.", "_bn0.": "bn1.", "_conv_head.": "conv_head.", "_bn1.": "bn2.",
                  "_fc.": "classifier."}
_LUKEMELAS_BLOCK = re.compile(r"^_blocks\.(\d+)\.(_[a-z_]+\d?)\.(.+)$")
# lukemelas layer -> timm layer, in a block with and without (first stage) an expansion conv
_LUKEMELAS_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand", "_project_conv": "conv_pwl",
                 "_bn2": "bn3"}
_LUKEMELAS_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_se_reduce": "se.conv_reduce",
                 "_se_expand": "se.conv_expand", "_project_conv": "conv_pw", "_bn2": "bn2"}


def lukemelas_to_timm(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    """lukemelas' names -> timm's for ``arch`` (see the module docstring); unmatched keys pass through."""
    blocks = [(stage, index, block) for index, (stage, repeats) in enumerate(architecture_stages(arch))
              for block in range(repeats)]
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        renamed = name
        for old, new in _LUKEMELAS_TOP.items():
            if name.startswith(old):
                renamed = new + name[len(old):]
                break
        match = _LUKEMELAS_BLOCK.match(name)
        if match is not None and int(match.group(1)) < len(blocks):
            stage, index, block = blocks[int(match.group(1))]
            layer = (_LUKEMELAS_DS if stage.kind == "ds" else _LUKEMELAS_IR).get(match.group(2))
            if layer is not None:
                renamed = f"blocks.{index}.{block}.{layer}.{match.group(3)}"
        out[renamed] = value
    return out


@register_layout("lukemelas_efficientnet")
def lukemelas_efficientnet(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    return get_converter(arch)(lukemelas_to_timm(state_dict, arch))


# --- torchvision ---------------------------------------------------------------------------------------

_TV_BLOCK = re.compile(r"^features\.(\d+)\.(\d+)\.block\.(\d+)\.(0\.|1\.|fc1\.|fc2\.)(.+)$")
# (timm conv, timm norm) of each ``Conv2dNormActivation`` of a block, in order; ``None`` marks the SE
_TV_IR = (("conv_pw", "bn1"), ("conv_dw", "bn2"), None, ("conv_pwl", "bn3"))
_TV_DS = (("conv_dw", "bn1"), None, ("conv_pw", "bn2"))
_TV_TOP = {"features.0.0.": "conv_stem.", "features.0.1.": "bn1.", "features.8.0.": "conv_head.",
           "features.8.1.": "bn2.", "classifier.1.": "classifier."}


def torchvision_to_timm(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torchvision's EfficientNet names -> timm's (see the module docstring); unmatched keys pass through."""
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        renamed = name
        for old, new in _TV_TOP.items():
            if name.startswith(old):
                renamed = new + name[len(old):]
                break
        match = _TV_BLOCK.match(name)
        if match is not None and 1 <= int(match.group(1)) <= 7:
            feature, block, layer, part, leaf = match.groups()
            layers = _TV_DS if feature == "1" else _TV_IR
            if int(layer) < len(layers):
                target = layers[int(layer)]
                prefix = f"blocks.{int(feature) - 1}.{block}."
                if target is None and part in ("fc1.", "fc2."):
                    renamed = f"{prefix}se.conv_{'reduce' if part == 'fc1.' else 'expand'}.{leaf}"
                elif target is not None and part in ("0.", "1."):
                    renamed = f"{prefix}{target[int(part[0])]}.{leaf}"
        out[renamed] = value
    return out


@register_converter(*TV_EFFICIENTNETS)
def convert_torchvision_efficientnet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames a torchvision ``efficientnet_b0`` / ``b1`` state dict to timm's names, then transposes."""
    return rename_torch_cnn(torchvision_to_timm(state_dict))
