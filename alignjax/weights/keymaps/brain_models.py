"""dicarlolab CORnet-Z / CORnet-S and VOneResNet-50 state dicts -> Flax variables.

The Flax modules (``alignjax.models.cornet``, ``alignjax.models.vonenet``) keep the torch module tree,
so the torchvision rule (``alignjax.weights.keymaps.torchvision_cnn.rename_torch_cnn``) applies as is:

- CORnet: ``V1.conv1.weight`` -> ``params/V1/conv1/kernel`` (OIHW -> HWIO), ``V2.norm1_0.running_mean``
  -> ``batch_stats/V2/norm1_0/mean``, ``decoder.linear.weight`` -> ``params/decoder/linear/kernel``
  (transposed). CORnet-S's shared ``conv2`` is one kernel used at every time step.
- VOneResNet-50: ``vone_block.simple_conv_q{0,1}.weight`` (the fixed Gabor banks, stored as
  parameters by vonenet) -> ``params/vone_block/simple_conv_q{0,1}/kernel``; ``bottleneck.weight`` ->
  ``params/bottleneck/kernel``; ``model.layer1.0.conv1.weight`` -> ``params/model/layer1_0/conv1/kernel``.

The released checkpoints are saved from ``nn.DataParallel``: strip ``module.`` first
(``alignjax.weights.strict.strip_prefixes`` does). The adversarially trained VOneResNet-50 checkpoint
also holds ``vone_block.div_u.weight`` and ``vone_block.div_t.weight``, unused leftovers that vonenet's
own ``get_model`` pops before loading; this converter drops them likewise. The noise settings
(``noise_mode``, ``noise_scale``, ``noise_level``) and block sizes live in the checkpoint's ``flags``,
not its state dict: pass them to the architecture builder.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.weights.keymaps import register_converter
from alignjax.weights.keymaps.torchvision_cnn import rename_torch_cnn

VONE_UNUSED = ("vone_block.div_u.weight", "vone_block.div_t.weight")


@register_converter("cornet_z", "cornet_s")
def convert_cornet(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """dicarlolab CORnet state dict (``module.`` stripped) -> flat Flax variables."""
    return rename_torch_cnn(state_dict)


@register_converter("voneresnet50")
def convert_voneresnet50(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """dicarlolab VOneResNet-50 state dict (``module.`` stripped) -> flat Flax variables."""
    return rename_torch_cnn({k: v for k, v in state_dict.items() if k not in VONE_UNUSED})
