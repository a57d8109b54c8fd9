"""timm ``SwinTransformer`` state dicts -> ``alignjax.models.swin`` variables; the Microsoft release layout.

torch names (timm 1.0.31 ``swin_transformer.py``)::

    patch_embed.proj.{weight (C, 3, 4, 4), bias}   patch_embed.norm.{weight, bias}
    layers.{i}.downsample.norm.{weight, bias}       layers.{i}.downsample.reduction.weight (2C, 4C)   (i > 0)
    layers.{i}.blocks.{j}.{norm1, norm2}.{weight, bias}
    layers.{i}.blocks.{j}.attn.relative_position_bias_table ((2Wh-1)(2Ww-1), heads)
    layers.{i}.blocks.{j}.attn.{qkv, proj}.{weight, bias}
    layers.{i}.blocks.{j}.mlp.{fc1, fc2}.{weight, bias}
    norm.{weight, bias}   head.fc.{weight, bias}

In timm 1.0.31 ``attn.relative_position_index`` and the blocks' ``attn_mask`` are non-persistent
buffers, but files saved by earlier timm releases and the Microsoft release hold them; they are fixed
functions of the window and resolution (the Flax module computes them), so they are dropped, as timm's
``checkpoint_filter_fn`` does. Linears (out, in) -> (in, out), the convolution OIHW -> HWIO, norms
weight -> scale; the bias table is taken as it is.

Layout ``'microsoft_swin'``: the original ``microsoft/Swin-Transformer`` files (and timm < 0.9) put
``PatchMerging`` at the end of a stage (``layers.{i}.downsample``, stage 0 has one, the last none) and
name the classifier ``head``; ``checkpoint_filter_fn`` of timm 1.0.31 renames
``layers.{i}.downsample`` -> ``layers.{i+1}.downsample`` and ``head.`` -> ``head.fc.``, which is what
this layout does before the key map above. The 2x2 concatenation order (``x0, x1, x2, x3``) is the same
in both, so ``reduction`` weights are taken unchanged. (Those files nest the weights under ``'model'``,
which the checkpoint reader selects.) Tables of another window size are not resized.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import get_converter, register_converter, register_layout

_BUFFERS = re.compile(r"(^|\.)(relative_position_index|attn_mask)$")
_NORMS = re.compile(r"(^|\.)(norm|norm1|norm2)$")
_LINEARS = re.compile(r"(^|\.)(qkv|proj|fc1|fc2|reduction|fc)$")


def _flax_path(torch_module: str) -> str:
    """'layers.0.blocks.1.attn.qkv' -> 'layers_0/blocks_1/attn/qkv'."""
    return re.sub(r"\b(layers|blocks)\.(\d+)", r"\1_\2", torch_module).replace(".", "/")


@register_converter(
    "swin_tiny_patch4_window7_224",
    "swin_small_patch4_window7_224",
    "swin_base_patch4_window7_224",
    "swin_base_patch4_window12_384",
    "swin_large_patch4_window7_224",
)
def convert_timm_swin(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm Swin state dict; drops the index/mask buffers; unknown keys are kept
    for the strict check to report."""
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        if _BUFFERS.search(name):
            continue
        value = np.asarray(value, dtype=np.float32)
        module, _, leaf = name.rpartition(".")
        path = _flax_path(module)
        if module == "patch_embed.proj":
            out[f"params/{path}/{'kernel' if leaf == 'weight' else leaf}"] = (
                value.transpose(2, 3, 1, 0) if leaf == "weight" else value
            )
        elif leaf == "relative_position_bias_table":
            out[f"params/{_flax_path(name)}"] = value
        elif _NORMS.search(module):
            out[f"params/{path}/{'scale' if leaf == 'weight' else leaf}"] = value
        elif _LINEARS.search(module):
            out[f"params/{path}/{'kernel' if leaf == 'weight' else leaf}"] = (
                value.T if leaf == "weight" else value
            )
        else:
            out[f"params/{_flax_path(name)}"] = value  # left for the strict check to report
    return out


_END_OF_STAGE_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample\.")


def microsoft_swin_to_timm(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """timm 1.0.31 ``checkpoint_filter_fn``'s renames for files that downsample at the end of a stage.

    A file is of that layout when it has ``layers.0.downsample.reduction.weight`` (timm's own stage 0 has
    no downsample); any other file passes through unchanged, as in timm.
    """
    if "layers.0.downsample.reduction.weight" not in state_dict:
        return dict(state_dict)
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        name = _END_OF_STAGE_DOWNSAMPLE.sub(lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", name)
        if name.startswith("head."):
            name = "head.fc." + name[len("head."):]
        out[name] = value
    return out


@register_layout("microsoft_swin")
def microsoft_swin(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    return get_converter(arch)(microsoft_swin_to_timm(state_dict))
