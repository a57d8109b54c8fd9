"""BiT ResNet-V2 checkpoints -> ``alignjax.models.bit`` variables: timm state dicts, and the original
google-research/big_transfer ``.npz`` release (``convert_bit_npz``).

timm names (``timm/models/resnetv2.py``)::

    stem.conv.weight (C0, 3, 7, 7)
    stages.{i}.blocks.{j}.{norm1, norm2, norm3}.{weight, bias}      (GroupNorm)
    stages.{i}.blocks.{j}.{conv1, conv2, conv3}.weight              (StdConv2d, raw weights)
    stages.{i}.blocks.0.downsample.conv.weight
    norm.{weight, bias}   head.fc.{weight (N, C, 1, 1), bias}

are ``torchvision_cnn.rename_torch_cnn``'s case (OIHW -> HWIO, norm weight -> scale), except that the
head's 1x1 conv kernel becomes the (c, n) kernel of the Flax head's ``Dense`` (a (n, c) Linear weight in
its place is taken too).

The original release (``BiT-M-R50x1-ILSVRC2012.npz`` ...) stores HWIO kernels under TF names, which
timm's ``_load_weights`` reads; ``convert_bit_npz`` maps the same names::

    resnet/root_block/standardized_conv2d/kernel               -> stem/conv/kernel
    resnet/block{i}/unit{jj}/{a,b,c}/standardized_conv2d/kernel -> stages_{i-1}/blocks_{jj-1}/conv{1,2,3}/kernel
    resnet/block{i}/unit{jj}/{a,b,c}/group_norm/{gamma,beta}    -> .../norm{1,2,3}/{scale,bias}
    resnet/block{i}/unit01/a/proj/standardized_conv2d/kernel    -> stages_{i-1}/blocks_0/downsample/conv/kernel
    resnet/group_norm/{gamma,beta}                              -> norm/{scale,bias}
    resnet/head/conv2d/{kernel,bias}                            -> head/fc/{kernel,bias}

(``jj`` is two digits from 01). Kernels are already HWIO (the head's (1, 1, c, n) is reshaped to the
Dense's (c, n)); norm vectors are flattened. Keys that match
none of these are passed through for the strict check to report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter, register_layout
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn

BIT_ARCHITECTURES = (
    "resnetv2_50x1_bit", "resnetv2_50x3_bit", "resnetv2_101x1_bit", "resnetv2_101x3_bit",
    "resnetv2_152x2_bit", "resnetv2_152x4_bit",
)

_UNIT = re.compile(r"^block(\d+)/unit(\d+)/([abc])/(proj/)?(standardized_conv2d/kernel|group_norm/gamma|group_norm/beta)$")
_LEAVES = {"standardized_conv2d/kernel": "kernel", "group_norm/gamma": "scale", "group_norm/beta": "bias"}
_TOP = {
    "root_block/standardized_conv2d/kernel": "stem/conv/kernel",
    "group_norm/gamma": "norm/scale",
    "group_norm/beta": "norm/bias",
    "head/conv2d/kernel": "head/fc/kernel",
    "head/conv2d/bias": "head/fc/bias",
}


@register_converter(*BIT_ARCHITECTURES)
def convert_timm_bit(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm BiT state dict (unknown keys kept for the strict check)."""
    out = rename_torch_cnn(state_dict)
    head = out.get("params/head/fc/kernel")
    if head is not None and head.ndim == 4 and head.shape[:2] == (1, 1):
        out["params/head/fc/kernel"] = np.ascontiguousarray(head[0, 0])
    return out


def _bit_npz_path(name: str) -> str | None:
    """The Flax variable path of one original BiT array name (without ``resnet/``), or None if unknown."""
    if name in _TOP:
        return _TOP[name]
    match = _UNIT.match(name)
    if match is None:
        return None
    block, unit, letter, proj, leaf = match.groups()
    prefix = f"stages_{int(block) - 1}/blocks_{int(unit) - 1}"
    if proj:
        return f"{prefix}/downsample/conv/kernel" if letter == "a" and leaf.endswith("kernel") else None
    index = "abc".index(letter) + 1
    return f"{prefix}/{'conv' if leaf.endswith('kernel') else 'norm'}{index}/{_LEAVES[leaf]}"


@register_layout("bit_npz")
def convert_bit_npz_layout(arrays: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    """``CheckpointQuirks(layout='bit_npz')``: a big_transfer release ``.npz`` for any BiT architecture
    (the ``resnet/`` scope may already have been stripped as a prefix shared by every key)."""
    if arch not in BIT_ARCHITECTURES:
        raise ValueError(f"the bit_npz layout is BiT ResNet-V2's; {arch!r} is not one of {BIT_ARCHITECTURES}")
    prefix = "resnet/" if any(name.startswith("resnet/") for name in arrays) else ""
    return convert_bit_npz(arrays, prefix=prefix)


def convert_bit_npz(arrays: Mapping[str, np.ndarray], prefix: str = "resnet/") -> dict[str, np.ndarray]:
    """Original google-research/big_transfer ``.npz`` arrays (``dict(np.load(path))``) -> flat Flax
    variables ``{'params/...': float32 array}``; see the module docstring for the names."""
    out: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.asarray(value, dtype=np.float32)
        path = _bit_npz_path(name[len(prefix):]) if name.startswith(prefix) else None
        if path is None:
            out[f"params/{name}"] = array  # left for the strict check to report
            continue
        if path.endswith(("scale", "bias")):
            array = array.reshape(-1)
        elif path == "head/fc/kernel" and array.ndim == 4 and array.shape[:2] == (1, 1):
            array = array[0, 0]
        out[f"params/{path}"] = np.ascontiguousarray(array)
    return out
