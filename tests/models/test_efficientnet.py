"""EfficientNet beyond the full-size upstream comparison (``test_upstream.py``): logits and input gradients
of small timm ``tf_efficientnet`` and torchvision EfficientNets at even and odd input sizes (where TF
SAME padding is asymmetric or not), lukemelas' ``efficientnet_pytorch`` 0.7.1 files through the
``'lukemelas_efficientnet'`` layout, and full-size output shapes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.models.efficientnet import TF_EFFICIENTNETS, same_padding
from alignjax.models.registry import CheckpointQuirks
from alignjax.weights import convert
from alignjax.weights.keymaps.efficientnet import lukemelas_to_timm, torchvision_to_timm
from tests.models import helpers
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    normalized,
    randomize,
    timm_module,
    torchvision_models,
)

# a quarter of the widths; per-stage depths (2, 1, 1, 1, 2, 1, 1): skip connections in a
# depthwise-separable block (first stage) and in an inverted residual, every kernel and stride
_DEPTHS = (2.0, 0.5, 0.5, 0.3, 0.6, 0.25, 1.0)
_SMALL = {"channel_multiplier": 0.25, "depth_multiplier": _DEPTHS, "num_classes": 10}


def small_timm():
    generate = timm_module().models.efficientnet._gen_efficientnet  # what timm's tf_efficientnet_b0 calls
    return generate(
        "tf_efficientnet_b0", channel_multiplier=0.25, depth_multiplier=_DEPTHS, bn_eps=1e-3, pad_type="same",
        num_classes=10,
    )


def small_torchvision():
    efficientnet = torchvision_models().efficientnet
    config = functools.partial(efficientnet.MBConvConfig, width_mult=0.25, depth_mult=1.0)
    stages = [  # torchvision's B0 table (expand, kernel, stride, in, out, layers) with the depths above
        config(1, 3, 1, 32, 16, 2), config(6, 3, 2, 16, 24, 1), config(6, 5, 2, 24, 40, 1),
        config(6, 3, 2, 40, 80, 1), config(6, 5, 1, 80, 112, 2), config(6, 5, 2, 112, 192, 1),
        config(6, 3, 1, 192, 320, 1),
    ]
    return efficientnet.EfficientNet(stages, dropout=0.2, num_classes=10)


def test_same_padding_is_timms():
    get_same_padding = timm_module().layers.padding.get_same_padding
    for size in range(1, 40):
        for kernel, stride in ((1, 1), (3, 1), (3, 2), (5, 1), (5, 2)):
            total = get_same_padding(size, kernel, stride, 1)
            assert same_padding(size, kernel, stride) == (total // 2, total - total // 2)


@pytest.mark.parametrize("shape", [(32, 32), (37, 45)])
def test_small_tf_efficientnet_logits_and_input_gradient_match_timm(shape):
    model = small_timm()
    assert [len(stage) for stage in model.blocks] == [2, 1, 1, 1, 2, 1, 1]
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "tf_efficientnet_b0", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **_SMALL
    )


def test_small_torchvision_efficientnet_logits_and_input_gradient_match_torchvision():
    """Symmetric padding and eps 1e-5, torchvision's names; at even sizes its stride-2 windows differ from
    SAME's ((1, 1) against (0, 1) for 3x3)."""
    model = small_torchvision()
    x = np.random.default_rng(1).uniform(size=(2, 32, 40, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=3)
    compare_logits_and_input_gradient(
        "tv_efficientnet_b0", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, **_SMALL
    )


# --- layout 'lukemelas_efficientnet' (efficientnet_pytorch 0.7.1) -------------------------------------

LUKEMELAS = CheckpointQuirks(layout="lukemelas_efficientnet")


def test_lukemelas_layout_matches_its_model(monkeypatch):
    """B0 at half width, built for 36x42 images: lukemelas pads statically for the ``image_size`` it
    was built with (``Conv2dStaticSamePadding``), the Flax model from each input's size (timm's
    ``Conv2dSame``); at the built size the two agree. 36x42 gives asymmetric (0, 1) and symmetric pads.
    (AdvProp's ``x * 2 - 1`` is the builder option ``mean = std = (0.5, 0.5, 0.5)``; the layout does not
    depend on it, and the comparison helper feeds the Flax model's default normalisation.) Not a quarter
    width: there the stem and the first stage are both 8 wide, and lukemelas leaves out the identity of a
    stage's first block even where its widths match (its ``stride`` is a list there, never ``== 1``), which
    no B0-B8 width does."""
    from efficientnet_pytorch import EfficientNet

    model = EfficientNet.from_name(
        "efficientnet-b0", width_coefficient=0.5, image_size=(36, 42), num_classes=10
    )
    x = np.random.default_rng(2).uniform(size=(2, 36, 42, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=4)
    names = model.state_dict()
    assert "_blocks.15._project_conv.weight" in names and "_blocks.0._bn2.running_var" in names
    # compare_logits_and_input_gradient converts with the architecture's key map; these files need the layout
    with_layout = functools.partial(convert.convert_state_dict, quirks=LUKEMELAS)
    monkeypatch.setattr(helpers, "convert_state_dict", with_layout)
    compare_logits_and_input_gradient(
        "tf_efficientnet_b0", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        channel_multiplier=0.5, num_classes=10,
    )


def _meta_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


@pytest.mark.parametrize("arch", TF_EFFICIENTNETS)
def test_lukemelas_layout_gives_timms_names_and_shapes(arch):
    """Every full-size variant (B2+ have two blocks in the first stage), on the meta device: the layout's
    names and shapes are exactly those of timm's ``tf_efficientnet_b*`` state dict."""
    from efficientnet_pytorch import EfficientNet

    with torch.device("meta"):
        lukemelas = EfficientNet.from_name(arch.replace("tf_efficientnet_", "efficientnet-"))
        timm = timm_module().create_model(arch, pretrained=False)
    renamed = lukemelas_to_timm(_meta_shapes(lukemelas), arch)
    assert renamed == _meta_shapes(timm)


def test_torchvision_names_give_timms_names_and_shapes():
    with torch.device("meta"):
        tv = torchvision_models().efficientnet_b1()
        timm = timm_module().create_model("tf_efficientnet_b1", pretrained=False)
    assert torchvision_to_timm(_meta_shapes(tv)) == _meta_shapes(timm)


def test_full_size_output_shape_at_any_size():
    """B7 at an odd, non-square size (SAME padding is computed from each input's size), bfloat16 compute."""
    module = build_architecture("tf_efficientnet_b7", num_classes=10, dtype=jnp.bfloat16)
    x = jax.ShapeDtypeStruct((2, 601, 599, 3), jnp.float32)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], x)
    assert out.shape == (2, 10) and out.dtype == jnp.float32
