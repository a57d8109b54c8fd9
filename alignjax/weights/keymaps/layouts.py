"""Checkpoint layouts that are not their architecture's usual torch state dict (``register_layout``).

- ``'flax'``: the file already holds ``'/'``-joined Flax variables (alignjax's own files, the bundled
  digits CNN): taken as they are, as float32.
- ``'timm_vgg'``: timm's VGG (``timm/models/vgg.py`` in timm 1.0.31, ``_filter_fn``) stores torchvision's
  fully connected classifier as convolutions ``pre_logits.fc1`` (4096, 512, 7, 7), ``pre_logits.fc2``
  (4096, 4096, 1, 1) and ``head.fc``; they become ``classifier.0/3/6`` again (the (c, h, w) flatten of
  the kernel equals torchvision's flatten of the NCHW feature map) and the torchvision key map applies.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import get_converter, register_layout


@register_layout("flax")
def flax_variables(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    del arch
    return {name: np.asarray(value, dtype=np.float32) for name, value in state_dict.items()}


_TIMM_VGG_RENAMES = {"pre_logits.fc1.": "classifier.0.", "pre_logits.fc2.": "classifier.3.",
                     "head.fc.": "classifier.6."}


def timm_vgg_to_torchvision(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """timm's VGG names and conv-shaped classifier -> torchvision's ``classifier.{0,3,6}`` linears."""
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        for old, new in _TIMM_VGG_RENAMES.items():
            if name.startswith(old):
                name = new + name[len(old):]
                if name.endswith(".weight"):
                    value = value.reshape(value.shape[0], -1)
                break
        out[name] = value
    return out


@register_layout("timm_vgg")
def timm_vgg(state_dict: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    return get_converter(arch)(timm_vgg_to_torchvision(state_dict))
