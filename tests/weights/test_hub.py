"""Hub sources against a hand-built offline Hugging Face cache (no network anywhere)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from alignjax.weights import hub
from alignjax.weights.readers import read_state_dict

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_cached_file(cache: Path, repo_id: str, filename: str, data: bytes, commit: str = COMMIT) -> Path:
    """What ``hf_hub_download`` leaves behind: ``models--org--name/{refs/main, snapshots/<commit>/file}``."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    target = repo_dir / "snapshots" / commit / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


@pytest.fixture
def weights_bytes(tmp_path) -> bytes:
    path = tmp_path / "src.safetensors"
    save_file({"w": np.arange(6, dtype=np.float32)}, str(path))
    return path.read_bytes()


def test_parse_source():
    assert hub.parse_source("hf://timm/resnet50.a1_in1k/model.safetensors@abc") == hub.HubSource(
        "timm/resnet50.a1_in1k", "model.safetensors", "abc")
    assert hub.parse_source("hf://org/repo/sub/dir/w.bin") == hub.HubSource(
        "org/repo", "sub/dir/w.bin", "main")
    assert str(hub.HubSource("org/repo", "f.pt", "v1")) == "hf://org/repo/f.pt@v1"
    assert hub.parse_source("bundled:digits_cnn.safetensors") == "digits_cnn.safetensors"
    assert hub.parse_source("file:///tmp/x.pt") == Path("/tmp/x.pt")
    with pytest.raises(ValueError, match="expected hf://org/repo/path/file@revision"):
        hub.parse_source("hf://org/file.pt")


@pytest.mark.parametrize("revision", ["main", COMMIT])
def test_fetch_from_hand_built_offline_cache(tmp_path, weights_bytes, revision):
    cache = tmp_path / "hub"
    make_cached_file(cache, "org/name", "model.safetensors", weights_bytes)
    digest = hashlib.sha256(weights_bytes).hexdigest()
    path = hub.fetch(f"hf://org/name/model.safetensors@{revision}", sha256=digest, cache_dir=cache,
                     offline=True)
    assert path.read_bytes() == weights_bytes
    np.testing.assert_array_equal(read_state_dict(path)["w"], np.arange(6, dtype=np.float32))


def test_alignjax_cache_env_is_the_default(tmp_path, weights_bytes, monkeypatch):
    monkeypatch.setenv("ALIGNJAX_CACHE", str(tmp_path))
    make_cached_file(tmp_path / "hub", "org/name", "model.safetensors", weights_bytes)
    assert hub.cache_root() == tmp_path
    assert hub.fetch("hf://org/name/model.safetensors").read_bytes() == weights_bytes  # HF_HUB_OFFLINE=1


def test_sha256_mismatch_names_both_digests_and_the_path(tmp_path, weights_bytes):
    cache = tmp_path / "hub"
    path = make_cached_file(cache, "org/name", "model.safetensors", weights_bytes + b"tampered")
    expected = hashlib.sha256(weights_bytes).hexdigest()
    actual = hashlib.sha256(weights_bytes + b"tampered").hexdigest()
    with pytest.raises(hub.ChecksumMismatchError) as info:
        hub.fetch("hf://org/name/model.safetensors@main", sha256=expected, cache_dir=cache, offline=True)
    message = str(info.value)
    assert expected in message and actual in message and str(path.name) in message
    assert "not used" in message


def test_bad_expected_digest_format(tmp_path, weights_bytes):
    (tmp_path / "w.safetensors").write_bytes(weights_bytes)
    with pytest.raises(ValueError, match="64 hex digits"):
        hub.fetch(str(tmp_path / "w.safetensors"), sha256="abc")


def test_not_cached_offline_says_what_to_download(tmp_path):
    with pytest.raises(hub.NotCachedError) as info:
        hub.fetch("hf://org/absent/model.safetensors@main", cache_dir=tmp_path, offline=True)
    message = str(info.value)
    assert "hf download org/absent model.safetensors --revision main" in message
    assert str(tmp_path) in message


def test_local_and_bundled_sources(tmp_path, weights_bytes):
    local = tmp_path / "w.safetensors"
    local.write_bytes(weights_bytes)
    assert hub.fetch(str(local), sha256=hashlib.sha256(weights_bytes).hexdigest()) == local
    assert hub.fetch("bundled:digits_cnn.safetensors").is_file()
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        hub.fetch(str(tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match="bundled weights 'nope.safetensors'"):
        hub.fetch("bundled:nope.safetensors")


def test_not_cached_names_the_real_reason(tmp_path, monkeypatch):
    """HF_HUB_OFFLINE is named only when it is what disabled the download."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for source in ("hf://org/absent/model.safetensors@main", "https://example.invalid/m/tiny-00000000.pth"):
        with pytest.raises(hub.NotCachedError) as info:
            hub.fetch(source, cache_dir=tmp_path, offline=True)
        assert "HF_HUB_OFFLINE" not in str(info.value) and "offline" in str(info.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.NotCachedError, match="HF_HUB_OFFLINE is set: unset it to download"):
        hub.fetch("hf://org/absent/model.safetensors@main", cache_dir=tmp_path)
