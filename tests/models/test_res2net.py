"""Res2Net beyond the full-size upstream comparison (``test_upstream.py``): logits and input gradients
of small timm Res2Nets (timm's own ``ResNet`` and ``Bottle2neck``) at several scales, odd input sizes,
the key layout (timm's names are the original gasvn/Res2Net release's), and full-size output shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.models import build_architecture
from alignjax.weights.keymaps import get_converter
from tests.models.families.res2net import UPSTREAM
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compare_logits_and_input_gradient,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
)


def small_timm(base_width: int, scale: int):
    """timm's ResNet with Bottle2neck blocks, one per stage, as ``timm.create_model`` builds Res2Nets."""
    timm_module()
    from timm.models.res2net import Bottle2neck
    from timm.models.resnet import ResNet

    return ResNet(block=Bottle2neck, layers=[1, 1, 1, 1], base_width=base_width, block_args={"scale": scale},
                  num_classes=10)


@pytest.mark.parametrize(
    ("base_width", "scale", "shape"), [(26, 4, (32, 32)), (26, 4, (37, 45)), (14, 8, (32, 32)), (48, 2, (32, 32))]
)
def test_small_res2net_logits_and_input_gradient_match_timm(base_width, scale, shape):
    model = small_timm(base_width, scale)
    x = np.random.default_rng(0).uniform(size=(2, *shape, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "res2net50_26w_4s", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        num_classes=10, stage_sizes=(1, 1, 1, 1), base_width=base_width, scale=scale,
    )


def test_names_are_the_original_release_layout():
    """gasvn/Res2Net ``res2net.py`` (the ``res2net50_26w_4s-06e79181.pth`` release, Brain-Score's file) names
    its modules ``conv1 bn1 layer{s}.{b}.{conv1,bn1,convs.i,bns.i,conv3,bn3,downsample.{0,1}} fc``, as timm
    does; DataParallel saves add ``module.``, which the converter strips."""
    state = numpy_state_dict(small_timm(26, 4))
    expected_modules = {"conv1", "bn1", "fc"} | {
        f"layer{s}.0.{m}" for s in range(1, 5)
        for m in ("conv1", "bn1", "conv3", "bn3", "downsample.0", "downsample.1", *(
            f"{kind}.{i}" for kind in ("convs", "bns") for i in range(3)))
    }
    assert {name.rsplit(".", 1)[0] for name in state} == expected_modules
    converter = get_converter("res2net50_26w_4s")
    plain = converter(state)
    wrapped = converter({f"module.{k}": v for k, v in state.items()})
    assert plain.keys() == wrapped.keys()
    assert plain["params/layer2_0/convs_2/kernel"].shape == (3, 3, 52, 52)
    assert "batch_stats/layer1_0/bns_0/var" in plain


@pytest.mark.parametrize("arch", sorted(UPSTREAM))
def test_full_size_output_shape(arch):
    module = build_architecture(arch, num_classes=10)
    out = jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 224, 224, 3)))
    assert out.shape == (2, 10) and out.dtype == jnp.float32
