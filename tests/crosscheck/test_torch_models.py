"""The reference side's torch models: the digits twin, timm natives and the torch<->JAX bridge."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.crosscheck.torch_models import bridge_model, digits_cnn_torch, native_model
from alignjax.data.digits import digits_split
from alignjax.errors import InputError
from alignjax.loading import load
from alignjax.models import build_architecture, load_embedded
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))


def test_digits_twin_matches_the_flax_model():
    logits_fn, variables = load_embedded()
    x = digits_split("test").x[:32]
    with torch.no_grad():
        twin = digits_cnn_torch(variables)(_nchw(x)).numpy()
    np.testing.assert_allclose(twin, np.asarray(logits_fn(variables, x)), atol=1e-5, rtol=0)


def test_bridge_gives_jax_logits_and_gradients_also_on_repeated_backward():
    logits_fn, variables = load_embedded()
    x = digits_split("test").x[:5]  # padded to 8 inside the bridge
    bridge = bridge_model(logits_fn, variables)
    images = _nchw(x).requires_grad_()
    logits = bridge(images)
    np.testing.assert_allclose(logits.detach().numpy(), np.asarray(logits_fn(variables, x)), atol=1e-6, rtol=0)
    weights = np.random.default_rng(0).normal(size=logits.shape).astype(np.float32)
    expected = jax.grad(lambda z: jnp.sum(logits_fn(variables, z) * weights))(jnp.asarray(x))
    for _ in range(2):  # FAB backpropagates one logit graph several times (retain_graph=True)
        images.grad = None
        logits.backward(torch.from_numpy(weights), retain_graph=True)
        np.testing.assert_allclose(images.grad.numpy(), np.transpose(np.asarray(expected), (0, 3, 1, 2)),
                                   atol=1e-5, rtol=0)


def _random_batch_stats(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


def test_native_timm_resnet_matches_the_converted_model(tmp_path):
    torch.manual_seed(0)
    import timm

    net = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    with torch.no_grad():
        _random_batch_stats(net, 0)
    path = tmp_path / "resnet18.pt"
    torch.save(net.state_dict(), path)
    x = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    loaded = load(arch="resnet18", weights=path, num_classes=10, input_shape=x.shape[1:])
    logits_fn, variables = loaded.logits_fn, loaded.variables
    native = native_model("resnet18", build_architecture("resnet18", num_classes=10), variables, path)
    with torch.no_grad():
        ours = native(_nchw(x)).numpy()
    np.testing.assert_allclose(ours, np.asarray(logits_fn(variables, x)), atol=1e-4, rtol=0)


def test_native_refuses_what_it_cannot_build(tmp_path):
    _, variables = load_embedded()
    with pytest.raises(InputError, match="--reference bridge"):
        native_model("wrn_28_10", None, variables, None)
    with pytest.raises(InputError, match="original PyTorch checkpoint"):
        native_model("resnet18", build_architecture("resnet18", num_classes=10), variables,
                     bundled_weights_dir() / EMBEDDED_WEIGHTS)
