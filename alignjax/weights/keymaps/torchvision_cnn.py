"""torch -> Flax key map for torchvision CNNs: ResNet-18/34/50/101/152, Wide ResNet-50-2, ResNeXt, AlexNet,
VGG-16.

The Flax modules in ``alignjax.models.{resnet,alexnet,vgg}`` mirror torchvision's module tree, so the
map is mechanical (``rename_torch_cnn``):

- the dotted module path becomes a ``/`` path, and an index joins the name before it with ``_``
  (``layer1.0.downsample.1`` -> ``layer1_0/downsample_1``, ``features.28`` -> ``features_28``), the
  way Flax names submodules kept in lists;
- ``weight`` of a conv (OIHW) becomes ``kernel`` (HWIO), of a linear layer (out, in) ``kernel``
  (in, out), of a BatchNorm ``scale``; ``bias`` stays ``bias``;
- ``running_mean`` / ``running_var`` become ``batch_stats/.../mean`` / ``var``;
  ``num_batches_tracked`` is dropped.

AlexNet and VGG flatten their pooled features in torch's NCHW order inside the module, so their first
linear layer needs no permutation. Anything else is passed through under its torch name so that the
strict check reports it as unexpected instead of it vanishing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter

_DROPPED_LEAVES = ("num_batches_tracked",)


def flax_module_path(torch_module_path: str) -> str:
    """``'layer1.0.downsample.1'`` -> ``'layer1_0/downsample_1'``; ``'layer.0.block.2'`` -> ``'layer_0/block_2'``."""
    parts: list[str] = []
    for part in torch_module_path.split("."):
        if part.isdigit() and parts:
            parts[-1] = f"{parts[-1]}_{part}"
        else:
            parts.append(part)
    return "/".join(parts)


def rename_torch_cnn(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames and transposes a state dict of Conv2d / Linear / BatchNorm2d layers to flat Flax variables.

    Args:
      state_dict: torch parameter name -> array (prefixes such as ``module.`` already stripped).

    Returns:
      ``{'params/<path>/kernel': ..., 'batch_stats/<path>/mean': ...}`` as float32 arrays.
    """
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        array = np.asarray(value)
        module_path, _, leaf = name.rpartition(".")
        if leaf in _DROPPED_LEAVES:
            continue
        path = flax_module_path(module_path)
        if leaf == "weight" and array.ndim == 4:
            out[f"params/{path}/kernel"] = np.transpose(array, (2, 3, 1, 0))
        elif leaf == "weight" and array.ndim == 2:
            out[f"params/{path}/kernel"] = np.transpose(array)
        elif leaf == "weight" and array.ndim == 1:
            out[f"params/{path}/scale"] = array
        elif leaf == "bias":
            out[f"params/{path}/bias"] = array
        elif leaf == "running_mean":
            out[f"batch_stats/{path}/mean"] = array
        elif leaf == "running_var":
            out[f"batch_stats/{path}/var"] = array
        else:  # unknown: keep it visible to the strict check
            out[f"params/{name}"] = array
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


@register_converter(
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "resnext101_32x16d",
    "resnext101_32x32d",
    "resnext101_32x48d",
    "alexnet",
    "vgg16",
    "vgg16_bn",
)
def convert_torchvision_cnn(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torchvision ResNet / AlexNet / VGG state dict -> flat Flax variables (see the module docstring)."""
    return rename_torch_cnn(state_dict)
