"""GoogLeNet and Inception-v3 beyond the full-size upstream comparison (``test_upstream.py``): logits and
input gradients against torchvision's own modules at full width on small inputs (their channel counts
are fixed in upstream's classes) with and without ``transform_input`` and with the auxiliary heads in
the state dict, GoogLeNet's ceil-mode pooling at odd sizes, timm's Inception-v3 (same layout, mean =
std = 0.5 instead of the transform), and the key map's dropped auxiliary keys."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INCEPTION_MEAN,
    INCEPTION_STD,
    compare_logits_and_input_gradient,
    normalized,
    numpy_state_dict,
    randomize,
    timm_module,
    torchvision_models,
)


def _images(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(2, *shape, 3)).astype(np.float32)


@pytest.mark.parametrize(
    ("shape", "transform"), [((32, 32), True), ((37, 45), False)], ids=["32x32-transform", "37x45-plain"]
)
def test_googlenet_logits_and_input_gradient_match_torchvision(shape, transform):
    """aux_logits=True: the state dict carries aux1/aux2 (as torchvision's released file does)."""
    model = torchvision_models().googlenet(aux_logits=True, transform_input=transform, init_weights=False,
                                           num_classes=10)
    x = _images(shape)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=2)
    compare_logits_and_input_gradient(
        "googlenet", model, x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5,
        num_classes=10, transform_input=transform,
    )


def test_inception_v3_logits_and_input_gradient_match_torchvision():
    """75x75, torchvision's minimum; transform_input, and the AuxLogits keys as in the released file.

    The auxiliary head runs in training mode only and needs 17x17 maps (a 299-pixel input), so the
    weights are randomised (which calibrates BatchNorm in training mode) on a model without it and then
    loaded into one with it: the state dict carries ``AuxLogits.*`` like torchvision's released file."""
    models = torchvision_models()
    options = {"transform_input": True, "init_weights": False, "num_classes": 10}
    plain = models.inception_v3(aux_logits=False, **options)
    x = _images((75, 75))
    randomize(plain, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=3)
    model = models.inception_v3(aux_logits=True, **options)
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("AuxLogits.") for name in missing)
    assert any(name.startswith("AuxLogits.") for name in numpy_state_dict(model))
    compare_logits_and_input_gradient(
        "inception_v3", model.eval(), x, mean=IMAGENET_MEAN, std=IMAGENET_STD, rtol=1e-5, num_classes=10,
    )


@pytest.mark.slow
def test_timm_inception_v3_is_the_same_layout():
    """timm's ``inception_v3`` (``.tv_in1k`` is torchvision's file) takes 0.5-normalised input and no
    transform; the default Flax model (ImageNet normalisation, then ``transform_input``) computes
    ``(x - 0.5) / 0.5`` too, so the same file gives the same logits either way."""
    model = timm_module().create_model("inception_v3", pretrained=False, num_classes=10)
    x = _images((80, 77))
    randomize(model, normalized(x, INCEPTION_MEAN, INCEPTION_STD), seed=4)
    compare_logits_and_input_gradient(
        "inception_v3", model, x, mean=INCEPTION_MEAN, std=INCEPTION_STD, rtol=1e-5, num_classes=10,
    )
