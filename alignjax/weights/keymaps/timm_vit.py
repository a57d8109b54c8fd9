"""timm ``VisionTransformer`` / DeiT state dicts -> ``alignjax.models.vit`` variables.

torch names (timm ``vision_transformer.py``, ``deit.py``)::

    cls_token (1, 1, D)   dist_token (1, 1, D)   pos_embed (1, N, D)
    patch_embed.proj.{weight (D, 3, p, p), bias}
    blocks.{i}.{norm1, norm2}.{weight, bias}
    blocks.{i}.attn.qkv.{weight (3D, D), bias}   blocks.{i}.attn.proj.{weight, bias}
    blocks.{i}.mlp.{fc1, fc2}.{weight, bias}
    norm.{weight, bias}   head.{weight, bias}   head_dist.{weight, bias}
    norm_pre.{weight, bias}   (CLIP towers, ``pre_norm=True``; their patch_embed.proj has no bias)

The fused ``qkv`` stays fused (its output axis is (3, heads, head_dim) in both frameworks), so
conversion is renaming plus transposes: linear (out, in) -> (in, out), conv OIHW -> HWIO.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter

_TOKENS = ("cls_token", "dist_token", "pos_embed")
_LAYER_NORMS = ("norm1", "norm2")
_LINEARS = ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")


def _flax_path(torch_module: str) -> str:
    """'blocks.3.attn.qkv' -> 'blocks_3/attn/qkv'."""
    parts = torch_module.split(".")
    if parts[0] == "blocks":
        parts = [f"blocks_{parts[1]}", *parts[2:]]
    return "/".join(parts)


@register_converter(
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_base_patch32_224",
    "vit_base_patch16_384",
    "vit_large_patch16_224",
    "vit_large_patch16_384",
    "vit_large_patch32_384",
    "vit_base_patch16_clip_224",
    "vit_base_patch32_clip_224",
    "vit_large_patch14_clip_224",
    "vit_large_patch14_clip_336",
    "vit_huge_patch14_clip_224",
    "deit_tiny_patch16_224",
    "deit_small_patch16_224",
    "deit_base_patch16_224",
    "deit_base_distilled_patch16_224",
)
def convert_timm_vit(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a timm ViT/DeiT state dict; unknown keys are kept (strict check names them)."""
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        value = np.asarray(value, dtype=np.float32)
        module, _, leaf = name.rpartition(".")
        if name in _TOKENS:
            out[f"params/{name}"] = value
        elif module == "patch_embed.proj":
            key = "kernel" if leaf == "weight" else leaf
            out[f"params/patch_embed/proj/{key}"] = value.transpose(2, 3, 1, 0) if leaf == "weight" else value
        elif module in ("norm", "norm_pre") or module.endswith(_LAYER_NORMS):
            out[f"params/{_flax_path(module)}/{'scale' if leaf == 'weight' else 'bias'}"] = value
        elif module in ("head", "head_dist") or module.endswith(_LINEARS):
            key = "kernel" if leaf == "weight" else leaf
            out[f"params/{_flax_path(module)}/{key}"] = value.T if leaf == "weight" else value
        else:
            out[f"params/{name.replace('.', '/')}"] = value  # left for the strict check to report
    return out
