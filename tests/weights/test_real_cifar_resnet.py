"""The real CIFAR-10 ResNet-18 shipped in the pyautoattack wheel: converted without torch, same logits.

``pyautoattack/examples/model_test.pt`` is a legacy (non-zip) torch.save of fra31/auto-attack's
``examples/resnet.py`` ResNet-18 state dict (11.17 M parameters, saved from CUDA).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from alignjax.models import build_architecture
from alignjax.models.embedded import unflatten
from alignjax.weights.readers import load_checkpoint


def _checkpoint() -> Path:
    spec = importlib.util.find_spec("pyautoattack")
    assert spec is not None and spec.origin is not None, "install the test extra: pip install -e '.[test]'"
    path = Path(spec.origin).parent / "examples" / "model_test.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the pyautoattack wheel")
    return path


# Runs in a fresh interpreter in which any import of torch fails.
CONVERT_WITHOUT_TORCH = textwrap.dedent("""
    import sys

    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"importing {name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    from alignjax.weights.convert import convert_checkpoint

    convert_checkpoint(sys.argv[1], "cifar_resnet18", sys.argv[2], input_shape=(32, 32, 3), num_classes=10)
    assert not any(name == "torch" or name.startswith("torch.") for name in sys.modules), "torch was imported"
    print("converted without torch")
""")


def test_reader_matches_torch_load_on_every_tensor():
    path = _checkpoint()
    loaded = load_checkpoint(path)
    assert loaded.format == "torch_legacy"
    reference = torch.load(path, map_location="cpu", weights_only=True)
    expected = {k: v.numpy() for k, v in reference.items() if not k.endswith("num_batches_tracked")}
    assert sorted(loaded.state_dict) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(loaded.state_dict[name], value, err_msg=name)
    assert sum(v.size for k, v in loaded.state_dict.items() if "running" not in k) == 11_173_962


def test_converts_without_torch_and_matches_torch_logits(tmp_path):
    path = _checkpoint()
    out = tmp_path / "cifar_resnet18.safetensors"
    result = subprocess.run([sys.executable, "-c", CONVERT_WITHOUT_TORCH, str(path), str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "converted without torch" in result.stdout

    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["arch"] == "cifar_resnet18" and sidecar["source_format"] == "torch_legacy"
    assert len(sidecar["source_sha256"]) == 64

    resnet = pytest.importorskip("pyautoattack.examples.resnet")
    torch_model = resnet.ResNet18().eval()
    torch_model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()

    module = build_architecture("cifar_resnet18", num_classes=10)
    variables = unflatten(load_file(str(out)))
    logits = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, images))
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    assert (logits.argmax(-1) == expected.argmax(-1)).all()
