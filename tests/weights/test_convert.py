"""convert_checkpoint and load_model end to end on tiny torch models (torch only writes the files)."""

from __future__ import annotations

import hashlib
import json

import jax
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from alignjax.models import ModelSpec, build_architecture
from alignjax.models.zoo import IMAGENET_MEAN, IMAGENET_STD, TIMM_VGG
from alignjax.weights.convert import convert_checkpoint, list_models, load_converted, load_model
from alignjax.weights.strict import CheckpointMismatchError
from tests.models.torch_reference_cnns import TVVGG, TVBasicBlock, TVResNet, randomize
from tests.weights.test_hub import make_cached_file

TINY_RESNET = {"width": 8, "stage_sizes": (1, 1, 1, 1), "num_classes": 10}


def _images(batch: int = 2, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(batch, size, size, 3)).astype(np.float32)


def _torch_logits(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    with torch.no_grad():
        return model(torch.from_numpy(((images - mean) / std).transpose(0, 3, 1, 2))).numpy()


def _tiny_torch_resnet() -> TVResNet:
    return randomize(TVResNet(TVBasicBlock, [1, 1, 1, 1], num_classes=10, width=8))


@pytest.mark.parametrize("zip_format", [True, False])
def test_convert_checkpoint_writes_flax_safetensors_and_sidecar(tmp_path, zip_format):
    model = _tiny_torch_resnet()
    source = tmp_path / "resnet.pth"
    wrapped = {"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 7}
    torch.save(wrapped, source, _use_new_zipfile_serialization=zip_format)

    out = convert_checkpoint(source, "resnet18", tmp_path / "out" / "resnet.safetensors",
                             input_shape=(32, 32, 3), **TINY_RESNET)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["arch"] == "resnet18" and sidecar["source_key"] == "state_dict"
    assert sidecar["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert sidecar["alignjax_version"]

    module = build_architecture("resnet18", **TINY_RESNET)
    images = _images()
    logits = module.apply(load_converted(out), images, train=False)
    np.testing.assert_allclose(np.asarray(logits), _torch_logits(model, images), atol=1e-5, rtol=0)


def test_wrong_architecture_is_a_clear_mismatch(tmp_path):
    source = tmp_path / "resnet.pt"
    torch.save(_tiny_torch_resnet().state_dict(), source)
    with pytest.raises(CheckpointMismatchError, match=r"missing \(\d+\).*\n.*unexpected|mis-shaped"):
        convert_checkpoint(source, "resnet50", tmp_path / "x.safetensors", input_shape=(32, 32, 3),
                           **TINY_RESNET)
    assert not (tmp_path / "x.safetensors").exists()


def _timm_style_vgg(tmp_path):
    """A tiny VGG saved the way timm stores its VGG weights (classifier as convs, ``head.fc``)."""
    model = randomize(TVVGG(cfg=[4, "M", 8, "M", 8, "M", 8, "M", 8, "M"], num_classes=10, hidden=16))
    renames = {"classifier.0.": "pre_logits.fc1.", "classifier.3.": "pre_logits.fc2.",
               "classifier.6.": "head.fc."}
    timm_state = {}
    for name, value in model.state_dict().items():
        value = value.numpy()
        for old, new in renames.items():
            if name.startswith(old):
                name = new + name[len(old):]
                if name == "pre_logits.fc1.weight":
                    value = value.reshape(-1, 8, 7, 7)
                elif name == "pre_logits.fc2.weight":
                    value = value.reshape(-1, 16, 1, 1)
        timm_state[name] = np.ascontiguousarray(value)
    path = tmp_path / "model.safetensors"
    save_file(timm_state, str(path))
    return model, path.read_bytes()


def test_load_model_through_offline_hub_cache_and_converted_cache(tmp_path):
    torch_model, data = _timm_style_vgg(tmp_path)
    hub_file = make_cached_file(tmp_path / "cache" / "hub", "org/tiny-vgg", "model.safetensors", data)
    spec = ModelSpec(
        name="tiny_vgg.test", arch="vgg16", num_classes=10, input_shape=(32, 32, 3),
        source="hf://org/tiny-vgg/model.safetensors@main", sha256=hashlib.sha256(data).hexdigest(),
        quirks=TIMM_VGG, arch_kwargs=(("stages", ((4,), (8,), (8,), (8,), (8,))), ("hidden", 16)),
        provenance="test",
    )
    logits_fn, variables, got_spec = load_model(spec, cache_dir=tmp_path / "cache", offline=True)
    assert got_spec is spec
    images = _images()
    expected = _torch_logits(torch_model, images)
    np.testing.assert_allclose(np.asarray(jax.jit(logits_fn)(variables, images)), expected, atol=1e-5, rtol=0)

    converted = list((tmp_path / "cache" / "converted").glob("*.safetensors"))
    assert len(converted) == 1 and converted[0].with_suffix(".json").is_file()
    hub_file.unlink()  # the second load needs only the converted cache
    logits_fn, variables, _ = load_model(spec, cache_dir=tmp_path / "cache", offline=True)
    np.testing.assert_allclose(np.asarray(logits_fn(variables, images)), expected, atol=1e-5, rtol=0)


def test_load_model_refuses_a_tampered_download(tmp_path):
    _, data = _timm_style_vgg(tmp_path)
    make_cached_file(tmp_path / "hub", "org/tiny-vgg", "model.safetensors", data[:-4] + b"\0\0\0\0")
    spec = ModelSpec(name="tampered", arch="vgg16", num_classes=10, input_shape=(32, 32, 3),
                     source="hf://org/tiny-vgg/model.safetensors@main",
                     sha256=hashlib.sha256(data).hexdigest(),
                     quirks=TIMM_VGG)
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_model(spec, cache_dir=tmp_path, offline=True)
    assert not (tmp_path / "converted").exists()


def test_load_bundled_digits_model():
    logits_fn, variables, spec = load_model("digits_cnn")
    assert spec.input_shape == (8, 8, 1)
    logits = logits_fn(variables, np.zeros((3, 8, 8, 1), np.float32))
    assert logits.shape == (3, 10) and np.isfinite(np.asarray(logits)).all()


def test_list_models_rows():
    rows = list_models()
    assert len(rows) >= 21
    names = [row["name"] for row in rows]
    assert names == sorted(names) and "resnet50.tv_in1k" in names and "digits_cnn" in names
    assert set(rows[0]) >= {"name", "arch", "source", "sha256", "expected_clean_acc", "provenance"}
