"""Shared fixtures of the behavioural tests: a tiny ImageNet-1k model from the zoo with seeded weights."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
from safetensors.numpy import save_file

from alignjax.models import build_architecture

SIZE = 32


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """small_cnn with 1000 outputs and seeded NumPy weights: zero-sum first-layer filters (so features follow
    image structure, not brightness) and a large last layer, so decisions spread over several classes."""
    rng = np.random.default_rng(2)
    conv1 = rng.normal(size=(3, 3, 3, 16))
    weights = {
        "conv1": {"kernel": conv1 - conv1.mean(axis=(0, 1, 2), keepdims=True), "bias": np.zeros(16)},
        "conv2": {"kernel": rng.normal(size=(3, 3, 16, 32)) / 12.0, "bias": np.zeros(32)},
        "fc1": {"kernel": rng.normal(size=(8192, 64)) / np.sqrt(8192), "bias": np.zeros(64)},
        "fc2": {"kernel": rng.normal(size=(64, 1000)) * 20.0, "bias": np.zeros(1000)},
    }
    flat = {
        f"params/{layer}/{name}": value.astype(np.float32)
        for layer, values in weights.items()
        for name, value in values.items()
    }
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_file(flat, str(path))
    variables = {
        "params": {
            layer: {n: v.astype(np.float32) for n, v in values.items()} for layer, values in weights.items()
        }
    }
    return build_architecture("small_cnn", num_classes=1000), variables, path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over ``tmp_path / 'www'``; yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
