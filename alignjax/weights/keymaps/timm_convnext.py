"""timm ``ConvNeXt`` state dicts -> ``alignjax.models.convnext`` variables.

torch names (timm ``convnext.py``)::

    stem.0.{weight (C0, 3, 4, 4), bias}            stem.1.{weight, bias}            (LayerNorm2d)
    stages.{i}.downsample.0.{weight, bias}         stages.{i}.downsample.1.{weight (C, C', 2, 2), bias}
    stages.{i}.blocks.{j}.conv_dw.{weight (C, 1, 7, 7), bias}      (depthwise, groups=C)
    stages.{i}.blocks.{j}.norm.{weight, bias}
    stages.{i}.blocks.{j}.mlp.{fc1, fc2}.{weight, bias}            (Linear)
    stages.{i}.blocks.{j}.gamma (C,)
    head.norm.{weight, bias}   head.fc.{weight, bias}
    head.pre_logits.fc.{weight, bias}                              (convnext_large_mlp's hidden layer)

Convolutions go OIHW -> HWIO (the depthwise (C, 1, 7, 7) becomes (7, 7, 1, C), which is what
``flax.linen.Conv(feature_group_count=C)`` stores), linears (out, in) -> (in, out), norms
weight -> scale. Original facebookresearch checkpoints (``downsample_layers.*``) must first go through
timm's ``checkpoint_filter_fn`` renaming; timm's own (hub) checkpoints use the names above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter

_CONVS = re.compile(r"^(stem\.0|stages\.\d+\.downsample\.1|stages\.\d+\.blocks\.\d+\.conv_dw)$")
_NORMS = re.compile(r"^(stem\.1|stages\.\d+\.downsample\.0|stages\.\d+\.blocks\.\d+\.norm|head\.norm)$")
_LINEARS = re.compile(r"^(stages\.\d+\.blocks\.\d+\.mlp\.fc[12]|head\.fc|head\.pre_logits\.fc)$")


def _flax_path(torch_module: str) -> str:
    """'stages.2.blocks.5.mlp.fc1' -> 'stages_2/blocks_5/mlp/fc1'; 'stem.0' -> 'stem_0'."""
    path = re.sub(r"\b(stem|stages|blocks|downsample)\.(\d+)", r"\1_\2", torch_module)
    return path.replace(".", "/")


@register_converter(
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
    "convnext_xlarge",
    "convnext_large_mlp",
    "convnext_xxlarge",
)
def convert_timm_convnext(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm ConvNeXt state dict; unknown keys are kept for the strict check."""
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        value = np.asarray(value, dtype=np.float32)
        module, _, leaf = name.rpartition(".")
        path = _flax_path(module)
        if leaf == "gamma":
            out[f"params/{_flax_path(name)}"] = value
        elif _CONVS.match(module):
            out[f"params/{path}/{'kernel' if leaf == 'weight' else leaf}"] = (
                value.transpose(2, 3, 1, 0) if leaf == "weight" else value
            )
        elif _NORMS.match(module):
            out[f"params/{path}/{'scale' if leaf == 'weight' else leaf}"] = value
        elif _LINEARS.match(module):
            out[f"params/{path}/{'kernel' if leaf == 'weight' else leaf}"] = (
                value.T if leaf == "weight" else value
            )
        else:
            out[f"params/{_flax_path(name)}"] = value  # left for the strict check to report
    return out
