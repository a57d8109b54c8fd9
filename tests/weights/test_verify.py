"""Pinning and the trust-on-first-use lockfile (``alignjax.weights.verify``): a changed checkpoint under
a pinned or locked registry entry is refused, through ``load_model`` as a user runs it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from alignjax.cli import main
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir
from alignjax.models.registry import CheckpointQuirks, ModelSpec
from alignjax.weights import hub, verify
from alignjax.weights.convert import load_model
from tests.weights.test_hub import COMMIT, make_cached_file


@pytest.mark.parametrize(("source", "sha256", "expected"), [
    ("hf://timm/resnet50.a1_in1k/model.safetensors@main", None, "lockfile"),
    (f"hf://timm/resnet50.a1_in1k/model.safetensors@{COMMIT}", None, "hf-revision"),
    ("hf://timm/resnet50.a1_in1k/model.safetensors@v1.0", None, "lockfile"),  # tags move
    ("hf://timm/resnet50.a1_in1k/model.safetensors@main", "ab" * 32, "sha256"),
    ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", None, "hash-prefix"),
    ("https://vonenet-models.s3.us-east-2.amazonaws.com/voneresnet50_e70.pth.tar", None, "lockfile"),
    ("https://drive.google.com/uc?export=download&id=1t98aEuzeTL8P7Kpd5DIrCoCL21BNZUhC", None, "lockfile"),
    ("file:///data/model.pth", None, "lockfile"),
    ("bundled:digits_cnn.safetensors", None, "bundled"),
    ("/data/model.pth", None, "local"),
])
def test_how_each_kind_of_source_is_pinned(source, sha256, expected):
    assert verify.pinning(source, sha256) == expected
    assert verify.is_pinned(source, sha256) == (expected != "lockfile")


def _local_spec(path, sha256=None) -> ModelSpec:
    return ModelSpec(name="local/digits", arch="small_cnn", num_classes=10, input_shape=(8, 8, 1),
                     source=f"file://{path}", sha256=sha256, quirks=CheckpointQuirks(layout="flax"),
                     family="small_cnn", provenance="test")


def _copy_digits(path, *, change: bool = False):
    flat = load_file(str(bundled_weights_dir() / EMBEDDED_WEIGHTS))
    if change:
        name = min(flat)
        flat[name] = flat[name] + np.float32(1e-3)
    save_file(flat, str(path))
    return path


def test_a_locked_local_entry_refuses_a_changed_file_until_unlocked(tmp_path, capsys):
    path = _copy_digits(tmp_path / "digits.safetensors")
    spec = _local_spec(path)
    load_model(spec, cache_dir=tmp_path / "cache")
    lock = json.loads(verify.lockfile_path().read_text())
    recorded = lock["sources"][spec.source]
    assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert recorded["size"] == path.stat().st_size
    load_model(spec, cache_dir=tmp_path / "cache")  # the same bytes pass

    _copy_digits(path, change=True)
    with pytest.raises(verify.ChecksumMismatchError, match="changed since it was first downloaded") as error:
        load_model(spec, cache_dir=tmp_path / "cache")
    assert recorded["sha256"] in str(error.value) and "--unlock" in str(error.value)

    assert main(["models", "--unlock", spec.source]) == 0
    assert "forgot the recorded sha256" in capsys.readouterr().out
    load_model(spec, cache_dir=tmp_path / "cache")  # trusted again, and recorded anew
    assert verify.locked_digest(spec.source) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert main(["models", "--unlock", "file:///nowhere"]) == 0
    assert "is not in the lockfile" in capsys.readouterr().out


def test_a_pinned_local_entry_refuses_a_changed_file_and_writes_no_lock(tmp_path):
    path = _copy_digits(tmp_path / "digits.safetensors")
    spec = _local_spec(path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    load_model(spec, cache_dir=tmp_path / "cache")
    assert not verify.lockfile_path().exists()
    _copy_digits(path, change=True)
    with pytest.raises(verify.ChecksumMismatchError, match="sha256 mismatch"):
        load_model(spec, cache_dir=tmp_path / "cache")


def test_hub_files_at_main_are_locked_and_at_a_commit_are_not(tmp_path):
    first, second = b"first weights", b"other weights"
    make_cached_file(tmp_path / "hub", "org/name", "model.safetensors", first)
    source = "hf://org/name/model.safetensors@main"
    hub.fetch(source, cache_dir=tmp_path / "hub", offline=True)
    assert verify.locked_digest(source) == hashlib.sha256(first).hexdigest()
    make_cached_file(tmp_path / "hub", "org/name", "model.safetensors", second)  # the repo moved on
    with pytest.raises(verify.ChecksumMismatchError, match="changed since"):
        hub.fetch(source, cache_dir=tmp_path / "hub", offline=True)
    pinned = f"hf://org/name/model.safetensors@{COMMIT}"
    assert hub.fetch(pinned, cache_dir=tmp_path / "hub", offline=True).read_bytes() == second
    assert verify.locked_digest(pinned) is None


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 99, "sources": {}}), "[]"])
def test_an_unreadable_lockfile_trusts_nothing(tmp_path, content):
    verify.lockfile_path().write_text(content)
    path = _copy_digits(tmp_path / "digits.safetensors")
    with pytest.raises(verify.ChecksumMismatchError, match="lockfile .* (cannot be read|is not an alignjax)"):
        load_model(_local_spec(path), cache_dir=tmp_path / "cache")


def test_the_lockfile_follows_the_cache_root(tmp_path, monkeypatch):
    monkeypatch.delenv("ALIGNJAX_LOCKFILE")
    monkeypatch.setenv("ALIGNJAX_CACHE", str(tmp_path / "root"))
    assert verify.lockfile_path() == tmp_path / "root" / "lock.json"
