"""Layout ``'pytorch_pretrained_vit'``: lukemelas/PyTorch-Pretrained-ViT state dicts for timm's ViT tree.

pytorch-pretrained-vit 0.0.7 (``pytorch_pretrained_vit/model.py``, ``transformer.py``) re-implements the
original google-research ViT; its ``*_imagenet1k`` releases (``B_16``, ``B_32``, ``L_16``, ``L_32``, 384x384,
no representation layer) compute the same function as timm's ``vit_{base,large}_patch{16,32}_384``:
LayerNorm eps 1e-6 everywhere, exact GELU, scale ``head_dim ** -0.5``, class token first, learned position
embeddings on all tokens, pre-norm blocks, the final ``norm`` over all tokens and the head on the class
token (``self.norm(x)[:, 0]``, the same as timm's norm-then-select). Its names, and timm's::

    patch_embedding.{weight, bias}                     patch_embed.proj.{weight, bias}
    class_token (1, 1, D)                              cls_token
    positional_embedding.pos_embedding (1, N, D)       pos_embed
    transformer.blocks.{i}.norm1 / norm2               blocks.{i}.norm1 / norm2
    transformer.blocks.{i}.attn.proj_{q,k,v} (D, D)    blocks.{i}.attn.qkv (3D, D): q, k, v stacked
    transformer.blocks.{i}.proj                        blocks.{i}.attn.proj
    transformer.blocks.{i}.pwff.fc1 / fc2              blocks.{i}.mlp.fc1 / fc2
    norm                                               norm
    fc                                                 head

Each of ``proj_q/k/v`` splits its output as (heads, head_dim), so stacking them along the output axis
gives timm's fused (3, heads, head_dim) order. The result goes through the architecture's timm key map.
Checkpoints with a representation layer (``pre_logits``, the 21k ``B_16``/``B_32``/``L_32`` releases
loaded with ``load_repr_layer=True``) have no timm counterpart here: the ``pre_logits`` keys are passed
through so that the strict check names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import get_converter, register_layout

_RENAMES = (
    (re.compile(r"^patch_embedding\."), "patch_embed.proj."),
    (re.compile(r"^class_token$"), "cls_token"),
    (re.compile(r"^positional_embedding\.pos_embedding$"), "pos_embed"),
    (re.compile(r"^transformer\.blocks\.(\d+)\.proj\."), r"blocks.\1.attn.proj."),
    (re.compile(r"^transformer\.blocks\.(\d+)\.pwff\."), r"blocks.\1.mlp."),
    (re.compile(r"^transformer\.blocks\.(\d+)\.(norm[12])\."), r"blocks.\1.\2."),
    (re.compile(r"^fc\."), "head."),
)
_QKV = re.compile(r"^transformer\.blocks\.(\d+)\.attn\.proj_([qkv])\.(weight|bias)$")


def pytorch_pretrained_vit_to_timm(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames to timm's ViT names and stacks ``proj_q/k/v`` into ``attn.qkv``; other keys pass through."""
    out: dict[str, np.ndarray] = {}
    qkv: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for name, value in state_dict.items():
        match = _QKV.match(name)
        if match:
            block, which, leaf = match.groups()
            qkv.setdefault((block, leaf), {})[which] = np.asarray(value)
            continue
        for pattern, replacement in _RENAMES:
            renamed, count = pattern.subn(replacement, name)
            if count:
                name = renamed
                break
        out[name] = value
    for (block, leaf), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:  # incomplete: keep the pieces for the strict check to report
            for which, value in parts.items():
                out[f"transformer.blocks.{block}.attn.proj_{which}.{leaf}"] = value
            continue
        out[f"blocks.{block}.attn.qkv.{leaf}"] = np.concatenate([parts[w] for w in "qkv"], axis=0)
    return out


@register_layout("pytorch_pretrained_vit")
def pytorch_pretrained_vit(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    return get_converter(arch)(pytorch_pretrained_vit_to_timm(state_dict))
