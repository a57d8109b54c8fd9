"""The paper's model pool (``alignjax models --pool paper``): its size and spread, every entry pinned or
locked, the published numbers and normalisations it carries, and the checkpoint quirks of its release
files (Madry's robustness library, Stylized-ImageNet, RobustBench ImageNet) applied to real torch
checkpoints of small models of the same layouts."""

from __future__ import annotations

import collections
import dataclasses
import json

import numpy as np
import polars as pl
import pytest
import torch

from alignjax.analysis.robustbench import TABLE_PATH
from alignjax.cli import main
from alignjax.models import MODELS, build_architecture
from alignjax.models.registry import TRAINING_REGIMES
from alignjax.weights import hub
from alignjax.weights.convert import load_model
from alignjax.weights.quirks import apply_quirks
from alignjax.weights.verify import ChecksumMismatchError, pinning
from tests.models.helpers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    normalized,
    randomize,
    torch_logits,
    torchvision_models,
)

POOL = sorted(name for name, spec in MODELS.items() if "paper" in spec.pools)


def _pool_rows(capsys) -> list[dict]:
    assert main(["models", "--pool", "paper", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_paper_pool_spans_families_and_training_regimes(capsys):
    rows = _pool_rows(capsys)
    imagenet = [row for row in rows if row["num_classes"] == 1000]
    families = collections.Counter(row["family"] for row in imagenet)
    assert len(imagenet) >= 100, len(imagenet)
    assert len(families) >= 20, families
    regimes = {row["training"] for row in imagenet}
    assert {"standard", "adversarial", "shape", "brain-inspired", "language-supervised"} <= regimes
    assert regimes <= TRAINING_REGIMES
    for row in rows:
        assert row["pinning"] in {"sha256", "hash-prefix", "hf-revision", "lockfile"}, row["name"]
        assert row["family"] and row["provenance"]
    # the models the paper's finding rests on
    names = {row["name"] for row in rows}
    for required in ("brainscore/resnet50-SIN", "brainscore/resnet50-SIN_IN", "brainscore/resnet50-SIN_IN_IN",
                     "brainscore/AlexNet_SIN", "madrylab/resnet50_l2_eps3", "madrylab/resnet50_linf_eps4.0",
                     "madrylab/resnet50_linf_eps8.0", "robustbench/imagenet/Linf/Salman2020Do_R50"):
        assert required in names, required


def test_brainscore_identifiers_are_unique_and_named_as_brainscore_names_them(capsys):
    identifiers = [row["brainscore_id"] for row in _pool_rows(capsys) if row["brainscore_id"]]
    assert len(identifiers) == len(set(identifiers))
    assert len(identifiers) >= 50
    for name, spec in MODELS.items():
        if name.startswith("brainscore/"):
            assert spec.brainscore_id == name.removeprefix("brainscore/")
        elif spec.brainscore_id and spec.source.startswith("hf://timm/"):
            assert spec.brainscore_id == name.replace(".", ":")  # Brain-Score's timm_models convention


@pytest.mark.parametrize("name", POOL)
def test_pool_entry_normalises_as_its_preprocessing_says(name):
    spec = MODELS[name]
    module = build_architecture(spec.arch, num_classes=spec.num_classes, **dict(spec.arch_kwargs))
    np.testing.assert_allclose(module.mean, spec.preprocessing.mean, err_msg=name)
    np.testing.assert_allclose(module.std, spec.preprocessing.std, err_msg=name)
    crop = spec.preprocessing.crop
    assert crop is None or crop == spec.input_shape[0], name


def test_robustbench_imagenet_entries_carry_the_shipped_model_info():
    table = pl.read_parquet(TABLE_PATH).filter((pl.col("dataset") == "imagenet") & (pl.col("threat_model") == "Linf"))
    published = {row["model_id"]: row for row in table.iter_rows(named=True)}
    entries = sorted(name for name in MODELS if name.startswith("robustbench/imagenet/Linf/"))
    assert len(entries) >= 10
    for name in entries:
        spec, row = MODELS[name], published[name.rsplit("/", 1)[1]]
        assert spec.expected_clean_acc == pytest.approx(float(row["clean_acc"]))
        assert spec.expected_robust_acc.accuracy == pytest.approx(float(row["autoattack_acc"]))
        assert spec.expected_robust_acc.eps == pytest.approx(4 / 255) and row["eps"] == "4/255"


def test_hash_named_release_files_are_pinned_by_their_names():
    for name in ("brainscore/densenet-121", "brainscore/resnext101_32x48d_wsl", "brainscore/resnet50-SIN",
                 "brainscore/antialiased-r50", "brainscore/inception_v3"):
        spec = MODELS[name]
        assert pinning(spec.source, spec.sha256) == "hash-prefix", name
        assert hub.parse_source(spec.source).hash_prefix is not None


def _small_resnet():
    """A torchvision ResNet-18 (the robustness library's and RobustBench's ImageNet networks are
    torchvision ResNets), randomised, with its calibration images."""
    model = torchvision_models().resnet18(num_classes=1000)
    x = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    randomize(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD), seed=7)
    return model, x


def test_a_robustness_library_checkpoint_loads_through_its_entry_and_a_changed_file_is_refused(tmp_path,
                                                                                            monkeypatch):
    """``{'model': {module.normalizer.*, module.model.*, module.attacker.normalize.*,
    module.attacker.model.*}, 'optimizer', 'schedule', 'epoch'}``: only ``module.model.`` is the network
    (the attacker's copy is made different here, so taking it would fail the comparison)."""
    monkeypatch.setenv("ALIGNJAX_LOCKFILE", str(tmp_path / "lock.json"))
    model, x = _small_resnet()
    state = model.state_dict()
    wrapped = {"module.normalizer.new_mean": torch.tensor(IMAGENET_MEAN).reshape(3, 1, 1),
               "module.normalizer.new_std": torch.tensor(IMAGENET_STD).reshape(3, 1, 1),
               "module.attacker.normalize.new_mean": torch.tensor(IMAGENET_MEAN).reshape(3, 1, 1),
               "module.attacker.normalize.new_std": torch.tensor(IMAGENET_STD).reshape(3, 1, 1)}
    wrapped |= {f"module.model.{key}": value for key, value in state.items()}
    wrapped |= {f"module.attacker.model.{key}": value + 1 for key, value in state.items()}
    path = tmp_path / "resnet50_l2_eps3.ckpt"
    torch.save({"model": wrapped, "optimizer": {"state": {}}, "schedule": None, "epoch": 105}, path)
    spec = dataclasses.replace(MODELS["madrylab/resnet50_l2_eps3"], arch="resnet18", source=f"file://{path}",
                               input_shape=(64, 64, 3))
    logits_fn, variables, _ = load_model(spec, cache_dir=tmp_path / "cache")
    expected = torch_logits(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD))
    np.testing.assert_allclose(np.asarray(logits_fn(variables, x)), expected, atol=1e-4, rtol=1e-4)

    state["fc.bias"] = state["fc.bias"] + 1  # upstream republishes a different file under the same name
    torch.save({"model": {f"module.model.{key}": value for key, value in state.items()}}, path)
    with pytest.raises(ChecksumMismatchError, match="lock"):
        load_model(spec, cache_dir=tmp_path / "cache2")


def test_robustbench_imagenet_checkpoint_layout_loads(tmp_path, monkeypatch):
    """RobustBench's ImageNet files: a torchvision state dict saved from ``Sequential(normalize, model)``
    under DataParallel (``module.model.*`` plus the normaliser's buffers), maybe inside ``state_dict``."""
    monkeypatch.setenv("ALIGNJAX_LOCKFILE", str(tmp_path / "lock.json"))
    model, x = _small_resnet()
    state = {f"module.model.{key}": value for key, value in model.state_dict().items()}
    state |= {"module.normalize.mean": torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1),
              "module.normalize.std": torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)}
    path = tmp_path / "Salman2020Do_R18.pt"
    torch.save({"state_dict": state}, path)
    spec = dataclasses.replace(MODELS["robustbench/imagenet/Linf/Salman2020Do_R18"], source=f"file://{path}",
                               input_shape=(64, 64, 3))
    logits_fn, variables, _ = load_model(spec, cache_dir=tmp_path / "cache")
    expected = torch_logits(model, normalized(x, IMAGENET_MEAN, IMAGENET_STD))
    np.testing.assert_allclose(np.asarray(logits_fn(variables, x)), expected, atol=1e-4, rtol=1e-4)


def test_stylized_imagenet_quirks_give_torchvision_names():
    """The SIN ResNets' ``module.`` keys and AlexNet_SIN's DataParallel-wrapped ``features``."""
    names = ["features.0.weight", "features.0.bias", "features.3.weight", "classifier.1.weight", "classifier.6.bias"]
    release = {name.replace("features.", "features.module."): np.zeros(1, np.float32) for name in names}
    assert sorted(apply_quirks(release, MODELS["brainscore/AlexNet_SIN"].quirks)) == sorted(names)
    resnet = {f"module.{name}": np.zeros(1, np.float32) for name in ("conv1.weight", "fc.bias", "layer1.0.bn1.bias")}
    cleaned = apply_quirks(resnet, MODELS["brainscore/resnet50-SIN"].quirks)
    assert sorted(cleaned) == ["conv1.weight", "fc.bias", "layer1.0.bn1.bias"]
    assert MODELS["brainscore/resnet50-SIN"].quirks.key == "state_dict"
