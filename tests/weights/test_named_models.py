"""RobustBench and Brain-Score zoo entries: their published numbers, sources and normalisation, and the
whole path a user takes (``load_model``: download through Drive's confirm page or a hash-named URL,
checkpoint surgery, conversion, cache) against a local server serving real torch.save checkpoints of
small models of the same families."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from alignjax.models import MODELS, build_architecture
from alignjax.models.zoo_robustbench import ENTRIES, parse_eps
from alignjax.weights import download as dl
from alignjax.weights import hub
from alignjax.weights.convert import list_models, load_model
from tests.local_http import LocalServer, send_bytes, send_html
from tests.models.torch_reference_brain_transformers import CORnetZ, randomize_
from tests.models.torch_reference_cnns import (
    DMWideResNet,
    WideResNet,
    imagenet_normalized,
    randomize,
    torch_logits,
)

MODEL_INFO = Path(__file__).resolve().parents[1] / "fixtures" / "robustbench" / "model_info" / "cifar10"
ROBUSTBENCH = sorted(name for name in MODELS if name.startswith("robustbench/cifar10/"))
BRAINSCORE = sorted(name for name in MODELS if name.startswith("brainscore/"))
ARCHITECTURES = {"WideResNet-28-10": ("wrn_28_10", "dm_wrn_28_10"), "WideResNet-34-10": ("wrn_34_10",),
                 "WideResNet-70-16": ("wrn_70_16", "dm_wrn_70_16"), "PreActResNet-18": ("preact_resnet18",),
                 "ResNet-18": ("cifar_resnet18",)}


def test_the_models_people_ask_for_are_registered():
    for threat, name in [("Linf", "Standard"), ("Linf", "Wong2020Fast"), ("Linf", "Carmon2019Unlabeled"),
                         ("Linf", "Gowal2020Uncovering_70_16_extra"),
                         ("Linf", "Rebuffi2021Fixing_70_16_cutmix_extra"), ("L2", "Standard"),
                         ("L2", "Rebuffi2021Fixing_70_16_cutmix_extra")]:
        assert f"robustbench/cifar10/{threat}/{name}" in MODELS
    assert {"brainscore/CORnet-S", "brainscore/CORnet-Z", "brainscore/alexnet", "brainscore/voneresnet-50",
            "brainscore/resnet50-SIN", "brainscore/BiT-S-R50x1"} <= set(BRAINSCORE)
    assert len(ROBUSTBENCH) == len(ENTRIES) == 33


@pytest.mark.parametrize("name", ROBUSTBENCH)
def test_robustbench_entry_matches_its_published_model_info(name):
    """Expected accuracies, radius and architecture equal RobustBench's model_info JSON (@78fcc9e)."""
    spec = MODELS[name]
    _, _, threat, short = name.split("/")
    info = json.loads((MODEL_INFO / threat / f"{short}.json").read_text())
    assert spec.expected_clean_acc == float(info["clean_acc"])
    robust = spec.expected_robust_acc
    assert (robust.norm, robust.eps_text, robust.accuracy) == (threat, info["eps"], float(info["autoattack_acc"]))
    assert robust.eps == pytest.approx(8 / 255 if info["eps"] == "8/255" else float(info["eps"]))
    assert spec.arch in ARCHITECTURES[info["architecture"]]
    assert spec.num_classes == 10 and spec.input_shape == (32, 32, 3)
    drive_id = dl.google_drive_id(spec.source)
    assert drive_id is not None and re.fullmatch(r"[A-Za-z0-9_-]{33}", drive_id), spec.source
    assert drive_id in spec.provenance and "78fcc9e" in spec.provenance
    module = build_architecture(spec.arch, num_classes=10, **dict(spec.arch_kwargs))
    if module.mean is None:  # no normalisation inside: the identity preprocessing
        assert (spec.preprocessing.mean, spec.preprocessing.std) == ((0.0,) * 3, (1.0,) * 3)
    else:
        np.testing.assert_allclose(module.mean, spec.preprocessing.mean)
        np.testing.assert_allclose(module.std, spec.preprocessing.std)
    assert (spec.preprocessing.resize, spec.preprocessing.crop) == (None, None)


def test_same_checkpoint_same_id_and_parse_eps():
    assert MODELS["robustbench/cifar10/Linf/Standard"].source == MODELS["robustbench/cifar10/L2/Standard"].source
    assert parse_eps("8/255") == 8 / 255 and parse_eps("0.5") == 0.5
    rows = {row["name"]: row for row in list_models()}
    row = rows["robustbench/cifar10/Linf/Rebuffi2021Fixing_70_16_cutmix_extra"]
    assert (row["expected_clean_acc"], row["expected_robust_acc"], row["threat_model"]) == (92.23, 66.58,
                                                                                          "Linf 8/255")


def test_models_command_lists_them_readably(capsys):
    from alignjax.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "arch", "classes", "clean", "%", "robust", "%", "(AutoAttack)"]
    assert max(map(len, lines)) <= 140 and all(line == line.rstrip() for line in lines)
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if line and not line[0].isdigit()}
    assert rows["robustbench/cifar10/Linf/Rebuffi2021Fixing_70_16_cutmix_extra"] == [
        "dm_wrn_70_16", "10", "92.23", "66.58", "(Linf", "8/255)"]
    assert rows["robustbench/cifar10/L2/Standard"] == ["wrn_28_10", "10", "94.78", "0", "(L2", "0.5)"]
    assert rows["brainscore/alexnet"] == ["alexnet", "1000", "56.522", "-"]
    assert f"{len(MODELS)} models" in lines[-1]
    assert main(["models", "--sources", "--filter", "brainscore/alexnet"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and listed[1].endswith("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")


@pytest.mark.parametrize("name", BRAINSCORE)
def test_brainscore_entry(name):
    """A public https release file (its torch-hub sha256 prefix checked where the name has one), in the
    paper's pool under its Brain-Score identifier, normalised inside as its preprocessing says."""
    spec = MODELS[name]
    source = hub.parse_source(spec.source)
    assert isinstance(source, hub.UrlSource) and source.url.startswith("https://")
    known = {"brainscore/alexnet": "7be5be79", "brainscore/CORnet-Z": "5c427c9c", "brainscore/CORnet-S": "1d3f7974",
             "brainscore/voneresnet-50": None, "brainscore/BiT-S-R50x1": None, "brainscore/resnet50-SIN": "c8e5653e"}
    if name in known:
        assert source.hash_prefix == known[name]  # verified on download
    assert spec.brainscore_id == name.removeprefix("brainscore/") and "paper" in spec.pools
    module = build_architecture(spec.arch, num_classes=spec.num_classes, **dict(spec.arch_kwargs))
    np.testing.assert_allclose(module.mean, spec.preprocessing.mean)
    np.testing.assert_allclose(module.std, spec.preprocessing.std)
    assert spec.preprocessing.crop == spec.input_shape[0] and spec.preprocessing.resize >= spec.preprocessing.crop


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _drive(server: LocalServer, files: dict[str, bytes]) -> None:
    """Drive's current flow: a virus-scan page whose form leads to drive.usercontent's /download."""

    def uc(handler, query):
        send_html(handler, f'<form id="download-form" action="{server.url("/download")}">'
                           f'<input type="hidden" name="id" value="{query["id"]}">'
                           '<input type="hidden" name="confirm" value="t"></form>')

    server.route("/uc", uc)
    server.route("/download", lambda handler, query: send_bytes(handler, files[query["id"]]))


def _small(name: str, source: str, **sizes) -> dataclasses.replace:
    spec = MODELS[name]
    return dataclasses.replace(spec, source=source, arch_kwargs=(*spec.arch_kwargs, *sizes.items()))


def test_robustbench_specs_load_end_to_end_through_google_drive(tmp_path, rng):
    """Carmon2019Unlabeled's layout ({'state_dict': {'module.' + k}} with the unused sub_block1) and
    Gowal2020's (a plain DMWideResNet state dict), each as a small model of the same family."""
    wrn = randomize(WideResNet(depth=10, widen_factor=2), seed=1)
    carmon = {f"module.{k}": v for k, v in wrn.state_dict().items()}
    carmon |= {f"module.sub_block1.{k[len('block1.'):]}": v.clone() + 1 for k, v in wrn.state_dict().items()
               if k.startswith("block1.")}
    dm = randomize(DMWideResNet(depth=10, width=2), seed=2)
    files = {"carmon": _saved({"state_dict": carmon, "epoch": 200, "optimizer": {"lr": 0.1}}),
             "gowal": _saved(dm.state_dict())}
    x = rng.uniform(size=(3, 32, 32, 3)).astype(np.float32)
    with LocalServer() as server:
        _drive(server, files)
        for name, drive_id, torch_model, sizes in [
            ("robustbench/cifar10/Linf/Carmon2019Unlabeled", "carmon", wrn, {"depth": 10, "widen_factor": 2}),
            ("robustbench/cifar10/Linf/Gowal2020Uncovering_70_16_extra", "gowal", dm, {"depth": 10, "width": 2}),
        ]:
            spec = _small(name, server.url(f"/uc?export=download&id={drive_id}"), **sizes)
            logits_fn, variables, _ = load_model(spec, cache_dir=tmp_path, offline=False)
            got = np.asarray(jax.jit(logits_fn)(variables, x))
            expected = torch_logits(torch_model, x)
            assert np.abs(expected).max() > 0.1
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
            requests = len(server.requests)
            load_model(spec, cache_dir=tmp_path, offline=False)  # the converted file is reused
            assert len(server.requests) == requests
    assert len(list((tmp_path / "downloads" / "127.0.0.1").iterdir())) == 2  # one cached file per source


def test_brainscore_spec_loads_a_hash_named_release_file(tmp_path, rng):
    """CORnet's release layout ({'epoch', 'arch', 'state_dict': {'module.' + k}, 'optimizer'}) under a
    torch-hub name whose sha256 prefix is checked; a file that does not match its name is refused."""
    widths = (8, 16, 16, 32)
    cornet = randomize_(CORnetZ(widths=widths), seed=3)
    data = _saved({"epoch": 25, "arch": "CORnet_Z", "optimizer": {"state": {}},
                   "state_dict": {f"module.{k}": v for k, v in cornet.state_dict().items()}})
    good, bad = f"cornet_z-{hashlib.sha256(data).hexdigest()[:8]}.pth", "cornet_z-5c427c9c.pth"
    x = rng.uniform(size=(2, 64, 64, 3)).astype(np.float32)
    with LocalServer() as server:
        for name in (good, bad):
            server.route(f"/cornet-models/{name}", lambda handler, query: send_bytes(handler, data))
        spec = _small("brainscore/CORnet-Z", server.url(f"/cornet-models/{good}"), widths=widths)
        logits_fn, variables, _ = load_model(spec, cache_dir=tmp_path, offline=False)
        with torch.no_grad():
            expected = cornet(torch.from_numpy(imagenet_normalized(x).transpose(0, 3, 1, 2).copy())).numpy()
        np.testing.assert_allclose(np.asarray(logits_fn(variables, x)), expected, atol=1e-4, rtol=1e-4)
        with pytest.raises(hub.ChecksumMismatchError, match="expected 5c427c9c"):
            load_model(_small("brainscore/CORnet-Z", server.url(f"/cornet-models/{bad}"), widths=widths),
                       cache_dir=tmp_path / "other", offline=False)


def test_checkpoint_key_picks_the_weights_automatic_selection_cannot(tmp_path):
    """E.g. RobustBench's ``checkpoint['last']`` for checkpoints that also hold ``'best'``."""
    last, best = randomize(WideResNet(depth=10, widen_factor=1), seed=4), randomize(WideResNet(10, 10, 1), seed=5)
    path = tmp_path / "two.pt"
    torch.save({"last": last.state_dict(), "best": best.state_dict()}, path)
    spec = _small("robustbench/cifar10/Linf/Standard", str(path), depth=10, widen_factor=1)
    with pytest.raises(ValueError, match="cannot tell where the weights are.*'last', 'best'"):
        load_model(spec, cache_dir=tmp_path)
    _, variables, _ = load_model(dataclasses.replace(spec, quirks=dataclasses.replace(spec.quirks, key="last")), cache_dir=tmp_path)
    np.testing.assert_array_equal(variables["params"]["fc"]["kernel"], last.fc.weight.detach().numpy().T)
    np.testing.assert_array_equal(variables["batch_stats"]["bn1"]["mean"], last.bn1.running_mean.numpy())
