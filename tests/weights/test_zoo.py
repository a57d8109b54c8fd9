"""Registry entries of the model zoo: architectures, converters, provenance and sources are consistent."""

from __future__ import annotations

import re

import numpy as np
import pytest

from alignjax.models import ARCHITECTURES, MODELS, build_architecture
from alignjax.weights import hub
from alignjax.weights.keymaps import get_converter, get_layout
from alignjax.weights.keymaps.layouts import timm_vgg_to_torchvision
from alignjax.weights.verify import pinning

HUB_ENTRIES = sorted(name for name, spec in MODELS.items() if spec.source.startswith("hf://"))


def test_at_least_twenty_public_hub_checkpoints():
    assert len(HUB_ENTRIES) >= 20


@pytest.mark.parametrize("name", sorted(MODELS))
def test_entry_is_consistent(name):
    spec = MODELS[name]
    assert spec.name == name
    assert spec.arch in ARCHITECTURES, f"{name}: architecture {spec.arch!r} is not registered"
    assert spec.provenance.strip(), f"{name} has no provenance"
    assert spec.family, f"{name} names no family"
    if spec.quirks.layout is not None:
        get_layout(spec.quirks.layout)  # raises when no such layout converter is registered
    else:
        get_converter(spec.arch)
    for pattern in (*spec.quirks.drop, *(old for old, _ in spec.quirks.rename)):
        re.compile(pattern)
    assert pinning(spec.source, spec.sha256) in {"sha256", "hash-prefix", "hf-revision", "bundled", "lockfile"}
    if spec.sha256 is not None:
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256), f"{name}: bad sha256 {spec.sha256!r}"
    if spec.expected_clean_acc is not None:
        assert 0.0 < spec.expected_clean_acc <= 100.0
    source = hub.parse_source(spec.source)
    if isinstance(source, hub.HubSource):
        get_converter(spec.arch)  # raises when the family key map is missing
        assert source.repo_id in spec.provenance, f"{name}: provenance should name the hub repo"
        assert source.filename.endswith((".safetensors", ".bin", ".pth", ".pt", ".ckpt", ".npz"))
        prep = spec.preprocessing
        assert prep.crop == spec.input_shape[0] and prep.resize is not None and prep.resize >= prep.crop
        assert prep.interpolation in ("bilinear", "bicubic", "nearest")


@pytest.mark.parametrize("name", HUB_ENTRIES)
def test_module_normalises_with_the_entry_mean_and_std(name):
    """Preprocessing mean/std are what the module applies inside (e.g. 0.5 for AugReg ViTs)."""
    spec = MODELS[name]
    module = build_architecture(spec.arch, num_classes=spec.num_classes, **dict(spec.arch_kwargs))
    assert getattr(module, "mean", None) is not None, f"{type(module).__name__} must normalise internally"
    np.testing.assert_allclose(module.mean, spec.preprocessing.mean)
    np.testing.assert_allclose(module.std, spec.preprocessing.std)


def test_timm_vgg_names_become_torchvision_names():
    rng = np.random.default_rng(0)
    timm_state = {
        "features.0.weight": rng.normal(size=(4, 3, 3, 3)),
        "pre_logits.fc1.weight": rng.normal(size=(16, 8, 7, 7)),
        "pre_logits.fc1.bias": rng.normal(size=(16,)),
        "pre_logits.fc2.weight": rng.normal(size=(16, 16, 1, 1)),
        "head.fc.weight": rng.normal(size=(10, 16)),
    }
    out = timm_vgg_to_torchvision(timm_state)
    assert sorted(out) == ["classifier.0.bias", "classifier.0.weight", "classifier.3.weight",
                           "classifier.6.weight", "features.0.weight"]
    fc1 = timm_state["pre_logits.fc1.weight"].reshape(16, -1)
    np.testing.assert_array_equal(out["classifier.0.weight"], fc1)
    assert out["classifier.3.weight"].shape == (16, 16)
