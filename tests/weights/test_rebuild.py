"""A converted file rebuilds exactly its model: class count, builder options, normalisation, input shape."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from alignjax.cli import main
from alignjax.models import ARCHITECTURES, architecture_input_shape, build_architecture
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir
from alignjax.weights.convert import convert_checkpoint, load_converted
from alignjax.weights.errors import CheckpointMismatchError
from alignjax.weights.metadata import METADATA_KEY, infer_num_classes, read_record
from alignjax.weights.rebuild import load_weights_for_arch
from alignjax.weights.strict import expected_shapes
from tests.models.torch_reference_cnns import TVBasicBlock, TVResNet, randomize

PYAUTOATTACK_RESNET = Path(importlib.util.find_spec("pyautoattack").origin).parent / "examples" / \
    "model_test.pt"
EMBEDDED = bundled_weights_dir() / EMBEDDED_WEIGHTS
TINY = {"width": 8, "stage_sizes": [1, 1, 1, 1]}
CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2471, 0.2435, 0.2616]


@pytest.fixture(scope="module")
def imagenet_checkpoint(tmp_path_factory) -> Path:
    """A tiny torchvision-style ResNet with ImageNet's 1000 classes."""
    path = tmp_path_factory.mktemp("ckpt") / "model.pth"
    torch.save(randomize(TVResNet(TVBasicBlock, [1, 1, 1, 1], num_classes=1000, width=8)).state_dict(), path)
    return path


def _options(options: dict) -> list[str]:
    return [arg for name, value in options.items()
            for arg in ("--arch-option", f"{name}={json.dumps(value)}")]


def test_convert_then_attack_a_1000_class_model_without_num_classes(tmp_path, imagenet_checkpoint, capsys):
    """Issue 8: convert + attack --arch resnet50 stopped with `fc/bias: checkpoint (1000,) vs model (10,)`."""
    out = tmp_path / "r.safetensors"
    assert main(["convert", str(imagenet_checkpoint), "--arch", "resnet18", "--out", str(out),
                 "--input-shape", "32,32,3", *_options(TINY)]) == 0
    assert "1000 classes (read off the checkpoint)" in capsys.readouterr().out
    record = read_record(out)
    assert record["num_classes"] == 1000 and record["arch_kwargs"] == TINY
    assert record["input_shape"] == [32, 32, 3]
    assert record["module_config"]["mean"] == [0.485, 0.456, 0.406]  # the resolved normalisation
    # the same record travels inside the safetensors header
    with open(out, "rb") as file:
        header = json.loads(file.read(int.from_bytes(file.read(8), "little")))
    assert json.loads(header["__metadata__"][METADATA_KEY])["num_classes"] == 1000

    module = build_architecture("resnet18", num_classes=1000, width=8, stage_sizes=(1, 1, 1, 1))
    images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    labels = np.asarray(module.apply(load_converted(out), images, train=False)).argmax(1)
    data = tmp_path / "d.npz"
    np.savez(data, x=images, y=labels)
    run = tmp_path / "run"
    assert main(["attack", "--arch", "resnet18", "--weights", str(out), "--data", str(data), "--eps", "1/255",
                 "--version", "custom", "--attacks", "apgd-ce(n_iter=2,n_restarts=1)", "--no-checks",
                 "--no-progress", "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    assert summary["clean_accuracy"] == 100.0  # rebuilt with 1000 classes and the recorded widths
    assert manifest["model_options"]["num_classes"] == 1000
    assert manifest["model_options"]["arch_kwargs"] == TINY


def test_recorded_normalisation_is_rebuilt_and_a_different_rebuild_is_refused(tmp_path):
    out = convert_checkpoint(PYAUTOATTACK_RESNET, "cifar_resnet18", tmp_path / "c.safetensors",
                             mean=CIFAR_MEAN, std=CIFAR_STD)
    logits_fn, variables, info = load_weights_for_arch(out, "cifar_resnet18", input_shape=(32, 32, 3))
    assert info["module_config"]["mean"] == CIFAR_MEAN and info["module_config"]["std"] == CIFAR_STD
    images = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    normalised = build_architecture("cifar_resnet18", mean=tuple(CIFAR_MEAN), std=tuple(CIFAR_STD))
    expected = np.asarray(normalised.apply(load_converted(out), images, train=False))
    np.testing.assert_allclose(np.asarray(logits_fn(variables, images)), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(CheckpointMismatchError, match="was converted with"):
        load_weights_for_arch(out, "cifar_resnet18", arch_kwargs={"mean": [0.5, 0.5, 0.5]})
    with pytest.raises(CheckpointMismatchError, match="converted for 10 classes"):
        load_weights_for_arch(out, "cifar_resnet18", num_classes=100)
    with pytest.raises(CheckpointMismatchError, match="pass --arch cifar_resnet18"):
        load_weights_for_arch(out, "preact_resnet18")
    # a record whose resolved normalisation differs from what the builder now gives is refused
    record = json.loads(out.with_suffix(".json").read_text())
    record["module_config"]["mean"] = [0.0, 0.0, 0.0]
    save_file(load_file(str(out)), str(out), metadata={METADATA_KEY: json.dumps(record)})
    with pytest.raises(CheckpointMismatchError, match=r"mean: converted with \[0.0, 0.0, 0.0\]"):
        load_weights_for_arch(out, "cifar_resnet18", input_shape=(32, 32, 3))


def test_weights_without_a_record_get_the_class_count_read_off_them_and_a_note():
    _, _, info = load_weights_for_arch(EMBEDDED, "small_cnn", input_shape=(8, 8, 1))
    assert info["num_classes"] == 10 and not info["record"]
    assert "carries no alignjax record" in info["notes"][0]


def test_the_sidecar_and_the_weights_get_the_same_ordinary_mode(tmp_path):
    old = os.umask(0o022)
    try:
        out = convert_checkpoint(EMBEDDED, "small_cnn", tmp_path / "s.safetensors")
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (out, out.with_suffix(".json"))}
    assert modes == {0o644}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.safetensors"]  # no temporary left


def test_convert_infers_the_cifar_input_shape_from_the_registry(tmp_path, capsys):
    """Issue 9 item 6: `convert r18.pt --arch cifar_resnet18` failed with (25088, 10) vs (512, 10)."""
    out = tmp_path / "r18.safetensors"
    assert main(["convert", str(PYAUTOATTACK_RESNET), "--arch", "cifar_resnet18", "--out", str(out)]) == 0
    assert "10 classes (read off the checkpoint), input 32x32x3" in capsys.readouterr().out


def test_a_mismatch_that_another_input_shape_fixes_says_which(tmp_path):
    with pytest.raises(CheckpointMismatchError, match="fits input shape 8,8,1.*pass --input-shape 8,8,1"):
        convert_checkpoint(EMBEDDED, "small_cnn", tmp_path / "x.safetensors", input_shape=(16, 16, 1))


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_the_class_count_is_read_off_the_variables_of_every_architecture(arch):
    shape = architecture_input_shape(arch)
    expected = expected_shapes(build_architecture(arch, num_classes=37), shape)
    flat = {name: np.broadcast_to(np.float32(0), dims) for name, dims in expected.items()}  # no memory
    assert infer_num_classes(arch, flat, shape) == 37
