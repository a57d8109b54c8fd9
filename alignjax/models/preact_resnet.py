"""RobustBench's PreActResNet-18 and its variants, in Flax (NHWC).

He et al. 2016b, "Identity Mappings in Deep Residual Networks". Reference:
``RobustBench/robustbench@78fcc9e:robustbench/model_zoo/architectures/resnet.py`` (unchanged since
3611879; identical in the robustbench 1.1.1 wheel): ``PreActResNet(block, num_blocks, num_classes,
bn_before_fc=False, out_shortcut=False)`` with blocks ``PreActBlock`` or ``PreActBlockV2``. A 3x3
stride-1 stem conv (no BatchNorm, no max pool), four stages of pre-activation blocks
(bn-relu-conv3x3(stride)-bn-relu-conv3x3, plus identity or a bare conv1x1 projection), then
optionally ``bn`` + ReLU (``bn_before_fc``), ``avg_pool2d(out, 4)`` and ``linear``.

RobustBench's variants differ in two places, so the module has two switches:

- which input a projection shortcut takes: the raw block input (``PreActBlock``, the default) or the
  activated ``relu(bn1(x))`` (``PreActBlockV2``, or ``PreActBlock`` with ``out_shortcut=True``);
  identity shortcuts always carry the raw input;
- whether a final ``bn`` + ReLU precedes the pooling (``bn_before_fc``).

Registered architectures (the combinations RobustBench's model zoo uses):

- ``preact_resnet18``: ``PreActResNet18()`` = ``PreActResNet(PreActBlock, [2, 2, 2, 2])``, raw-input
  shortcuts, no final BatchNorm: CIFAR-10 Wong2020Fast (with CIFAR-10 mean/std inside),
  Andriushchenko2020Understanding.
- ``preact_resnet18_v2_bn``: ``PreActResNet(PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True)``,
  activated-input shortcuts and a final ``bn``: CIFAR-10 Rice2020Overfitting (L2),
  Kireev2021Effectiveness, CIFAR-100 Addepalli2021Towards_PARN18; CIFAR-100 Rice2020Overfitting's
  ``PreActResNet(PreActBlock, ..., bn_before_fc=True, out_shortcut=True)`` computes the same function
  with the same state-dict names.

The other two combinations are builder options (``activated_shortcut``, ``bn_before_fc``). Submodule
names follow the torch state dict (``layer2.0.shortcut.0`` -> ``layer2_0/shortcut_0``). The reference
does not normalise its input; ``mean``/``std`` are there for the checkpoints whose wrapper does. Inputs
must be 32x32: the final 4x4 average pool must leave 1x1 features for ``linear``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from alignjax.models.alexnet import flatten_nchw
from alignjax.models.cifar_resnet import CIFAR_WIDTHS, avg_pool
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import batch_norm, conv, normalize


class PreActBlock(nn.Module):
    """RobustBench ``PreActBlock`` (``activated_shortcut=False``) or ``PreActBlockV2`` (True).

    bn-relu, then conv-bn-relu-conv; when the shape changes the shortcut is a bare conv1x1 applied to
    the raw input or to the activated one; otherwise it is the raw input.
    """

    planes: int
    stride: int = 1
    activated_shortcut: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        out = nn.relu(batch_norm(train, self.dtype, "bn1")(x))
        if self.stride != 1 or x.shape[-1] != self.planes:
            source = out if self.activated_shortcut else x
            shortcut = conv(self.planes, 1, self.stride, 0, self.dtype, "shortcut_0")(source)
        else:
            shortcut = x
        out = conv(self.planes, 3, self.stride, 1, self.dtype, "conv1")(out)
        out = nn.relu(batch_norm(train, self.dtype, "bn2")(out))
        out = conv(self.planes, 3, 1, 1, self.dtype, "conv2")(out)
        return out + shortcut


class PreActResNet(nn.Module):
    """RobustBench ``PreActResNet`` with basic pre-activation blocks.

    Attributes:
      stage_sizes: blocks per stage ((2, 2, 2, 2) for ResNet-18).
      activated_shortcut: projection shortcuts take ``relu(bn1(x))`` (``PreActBlockV2``) instead of x.
      bn_before_fc: a final ``bn`` + ReLU before the pooling.
      num_classes: outputs of ``linear``.
      widths: planes per stage ((64, 128, 256, 512)); tests use small ones.
      mean, std: optional per-channel input normalisation (None: inputs used as they are).
      dtype: compute dtype; parameters stay float32 and logits are returned as float32.
    """

    stage_sizes: Sequence[int] = (2, 2, 2, 2)
    activated_shortcut: bool = False
    bn_before_fc: bool = False
    num_classes: int = 10
    widths: Sequence[int] = CIFAR_WIDTHS
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = normalize(x, self.mean, self.std).astype(self.dtype)
        x = conv(self.widths[0], 3, 1, 1, self.dtype, "conv1")(x)
        for stage, (num_blocks, planes) in enumerate(zip(self.stage_sizes, self.widths, strict=True)):
            for index in range(num_blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                block = PreActBlock(
                    planes, stride, self.activated_shortcut, self.dtype, name=f"layer{stage + 1}_{index}"
                )
                x = block(x, train)
        if self.bn_before_fc:
            x = nn.relu(batch_norm(train, self.dtype, "bn")(x))
        x = flatten_nchw(avg_pool(x, 4))
        x = nn.Dense(self.num_classes, dtype=self.dtype, name="linear")(x)
        return x.astype(jnp.float32)


def build_preact_resnet18(
    num_classes: int = 10,
    dtype: Any = jnp.float32,
    *,
    activated_shortcut: bool = False,
    bn_before_fc: bool = False,
    **kwargs: Any,
) -> PreActResNet:
    """A PreActResNet-18; ``kwargs`` override attributes (``mean``, ``std``, ``widths`` ...)."""
    return PreActResNet(
        num_classes=num_classes,
        dtype=dtype,
        activated_shortcut=activated_shortcut,
        bn_before_fc=bn_before_fc,
        **kwargs,
    )


register_architecture("preact_resnet18", input_shape=(32, 32, 3))(build_preact_resnet18)
register_architecture("preact_resnet18_v2_bn", input_shape=(32, 32, 3))(
    functools.partial(build_preact_resnet18, activated_shortcut=True, bn_before_fc=True)
)
