"""The zoo's timm checkpoints against timm itself: preprocessing equals timm's ``pretrained_cfg``, and
timm's module of each checkpoint converts, through the entry's own ``convert``, to exactly what the
architecture's upstream comparison converts (``test_upstream.py``).

The ViT, DeiT and ConvNeXt architectures' upstream *is* timm's module, so ``test_upstream.py`` covers
their conversion; ResNets and VGGs are compared there with torchvision's modules, while their zoo
checkpoints are timm's files of torchvision's weights (``resnet50.tv_in1k`` ...), loaded into timm's
own ResNet/VGG: that layout is checked here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alignjax.models import MODELS, build_architecture
from alignjax.models.embedded import flatten
from alignjax.weights.convert import convert_state_dict
from tests.models.helpers import (
    build_uninitialised,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
    torch_logits,
    torchvision_models,
)

TIMM_SPECS = sorted(name for name, spec in MODELS.items() if spec.source.startswith("hf://timm/"))


def _timm_crop_pct(cfg, size: int) -> float:
    """timm's crop fraction at our input size: the main config's, or its test-time one when the main
    input size is the training size (torchvision's ``tv2`` weights: 176 px train, 224 px test)."""
    if tuple(cfg.input_size[1:]) == (size, size):
        return cfg.crop_pct
    if cfg.test_input_size is not None and tuple(cfg.test_input_size[1:]) == (size, size):
        return cfg.test_crop_pct
    raise AssertionError(f"timm's config has no {size} px input: {cfg.input_size}, {cfg.test_input_size}")


def test_the_zoo_has_timm_checkpoints():
    assert len(TIMM_SPECS) >= 25


@pytest.mark.parametrize("name", TIMM_SPECS)
def test_preprocessing_matches_timm_pretrained_cfg(name):
    """resize = floor(size / crop_pct) (timm ``transforms_factory``), centre crop, interpolation, and the
    normalisation both in the spec and inside the Flax module. No download: the config ships with timm."""
    spec = MODELS[name]
    cfg = timm_module().models.get_pretrained_cfg(name)
    assert cfg is not None, f"timm {timm_module().__version__} has no pretrained config {name!r}"
    size = spec.input_shape[0]
    prep = spec.preprocessing
    assert cfg.crop_mode == "center" and prep.crop == size
    assert prep.resize == math.floor(size / _timm_crop_pct(cfg, size))
    assert prep.interpolation == cfg.interpolation
    np.testing.assert_allclose(prep.mean, cfg.mean, rtol=1e-6)
    np.testing.assert_allclose(prep.std, cfg.std, rtol=1e-6)
    module = build_architecture(spec.arch, num_classes=spec.num_classes, **dict(spec.arch_kwargs))
    np.testing.assert_allclose(module.mean, cfg.mean, rtol=1e-6)
    np.testing.assert_allclose(module.std, cfg.std, rtol=1e-6)
    assert spec.num_classes == cfg.num_classes


def _torchvision_family_timm_models() -> list[str]:
    """One zoo entry per timm module of the torchvision families (tags share the module; torchvision's
    own weights, ``.tv_in1k``, preferred)."""
    first: dict[str, str] = {}
    for name in sorted(TIMM_SPECS, key=lambda name: (not name.endswith(".tv_in1k"), name)):
        if MODELS[name].arch.startswith(("resnet", "wide_resnet", "vgg")):
            first.setdefault(name.split(".")[0], name)
    return sorted(first.values())


DEFAULT_RUN = {"resnet50", "vgg16_bn"}  # timm modules compared in the default run; the rest with -m slow


@pytest.mark.parametrize(
    "name",
    [
        name if name.split(".")[0] in DEFAULT_RUN else pytest.param(name, marks=pytest.mark.slow)
        for name in _torchvision_family_timm_models()
    ],
)
def test_timm_module_of_the_checkpoint_converts_like_torchvision(name):
    """torchvision's random weights loaded into timm's module the way timm loads torchvision's checkpoints
    (VGG: timm's ``_filter_fn``): timm's logits equal torchvision's, and the entry's ``convert`` of timm's
    state dict gives exactly the variables of the architecture's converter on torchvision's."""
    spec = MODELS[name]
    timm = timm_module()
    size = 112 if spec.arch.startswith("vgg") else spec.input_shape[0]
    x = np.random.default_rng(0).uniform(size=(1, size, size, 3)).astype(np.float32)
    torch_input = normalized(x, spec.preprocessing.mean, spec.preprocessing.std)
    build = getattr(torchvision_models(), spec.arch)
    reference = randomize(build_uninitialised(build), torch_input, seed=2)
    reference_state = reference.state_dict()
    if spec.arch.startswith("vgg"):
        reference_state = timm.models.vgg._filter_fn(reference_state)
    with torch.device("meta"):
        twin = timm.create_model(name, pretrained=False)
    twin.load_state_dict(reference_state, assign=True)
    np.testing.assert_allclose(
        torch_logits(twin, torch_input), torch_logits(reference, torch_input), atol=1e-5, rtol=0
    )
    shape = (size, size, 3)
    ours = convert_state_dict(
        numpy_state_dict(twin),
        spec.arch,
        quirks=spec.quirks,
        input_shape=shape,
        num_classes=spec.num_classes,
    )
    expected = convert_state_dict(numpy_state_dict(reference), spec.arch, input_shape=shape)
    ours, expected = flatten(ours), flatten(expected)
    assert ours.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
