"""Torch models for the reference side of a cross-check (torch is imported inside the functions only).

Two kinds:

* **native**: the architecture's own PyTorch code loading the *original* checkpoint, so the
  cross-check covers the checkpoint conversion as well as the attacks:
  - ``small_cnn`` (the embedded digits CNN): ``DigitsCNN``, the same maths written in torch, holding
    the Flax weights (there is no upstream torch checkpoint of this model);
  - ``cifar_resnet18``: ``pyautoattack.examples.resnet.ResNet18`` (fra31/auto-attack@a392200:
    ``examples/resnet.py``, the architecture of the reference's own example checkpoint);
  - timm architectures (``TIMM_ARCHITECTURES``): ``timm.create_model(name, pretrained=False)`` (timm
    must be installed and importable; it is not part of the ``crosscheck`` extra);
  each wrapped with the input normalisation the Flax module applies (its ``mean``/``std``).
* **bridge**: pyautoattack's attacks on the alignjax model itself, through a ``torch.autograd.Function``
  that calls the jitted JAX logits and their VJP. Works for every architecture and named model;
  it checks the attacks only, not the conversion.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.errors import InputError
from alignjax.models import module_logits
from alignjax.types import call_model

# alignjax architecture name -> timm model name (same state-dict layout as the alignjax converter reads)
TIMM_ARCHITECTURES = {
    name: name for name in (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2",
        "vit_small_patch16_224", "vit_base_patch16_224", "deit_tiny_patch16_224", "deit_small_patch16_224",
        "deit_base_patch16_224", "deit_base_distilled_patch16_224", "convnext_tiny", "convnext_small",
        "convnext_base",
    )
}
NATIVE_ARCHITECTURES = ("small_cnn", "cifar_resnet18", *sorted(TIMM_ARCHITECTURES))


@functools.cache
def digits_cnn_class() -> type:
    """``DigitsCNN``: alignjax.models.small_cnn.SmallCNN in torch (NCHW in, flattened in NHWC order)."""
    import torch
    from torch import nn

    class DigitsCNN(nn.Module):
        def __init__(self, widths=(16, 32), hidden=64, num_classes=10):
            super().__init__()
            self.conv1 = nn.Conv2d(1, widths[0], 3, padding=1)
            self.conv2 = nn.Conv2d(widths[0], widths[1], 3, padding=1)
            self.fc1 = nn.Linear(4 * 4 * widths[1], hidden)
            self.fc2 = nn.Linear(hidden, num_classes)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = torch.nn.functional.max_pool2d(x, 2)
            x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten in NHWC order, as Flax does
            return self.fc2(torch.relu(self.fc1(x)))

    return DigitsCNN


def digits_cnn_torch(variables: dict[str, Any]) -> Any:
    """A ``DigitsCNN`` in eval mode holding the Flax variables of a ``small_cnn``."""
    import torch

    p = variables["params"]
    model = digits_cnn_class()(
        widths=(p["conv1"]["kernel"].shape[-1], p["conv2"]["kernel"].shape[-1]),
        hidden=p["fc1"]["kernel"].shape[-1],
        num_classes=p["fc2"]["kernel"].shape[-1],
    )

    def tensor(array: Any) -> Any:
        return torch.from_numpy(np.array(array, dtype=np.float32))  # a writable copy

    with torch.no_grad():
        for name in ("conv1", "conv2"):
            getattr(model, name).weight.copy_(tensor(np.transpose(p[name]["kernel"], (3, 2, 0, 1))))
            getattr(model, name).bias.copy_(tensor(p[name]["bias"]))
        for name in ("fc1", "fc2"):
            getattr(model, name).weight.copy_(tensor(np.transpose(p[name]["kernel"])))
            getattr(model, name).bias.copy_(tensor(p[name]["bias"]))
    return model.eval()


def import_timm() -> Any:
    """``timm``, or None when it is missing or does not import (e.g. a torchvision built for another torch)."""
    try:
        import timm
    except Exception:  # noqa: BLE001 - any import failure means: no native timm models here
        return None
    return timm


def module_of(logits_fn: Any) -> Any:
    """The Flax module behind ``logits_fn_for(module)`` (or ``module.apply``, or a partial of it), else None."""
    return module_logits.module_of(logits_fn)


def _normalized(model: Any, mean: Any, std: Any) -> Any:
    """``model((x - mean) / std)`` as a torch module (identity parts where mean/std is None)."""
    import torch
    from torch import nn

    class Normalized(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            shape = (1, -1, 1, 1)
            self.register_buffer("mean", None if mean is None else torch.tensor(mean, dtype=torch.float32).view(shape))
            self.register_buffer("std", None if std is None else torch.tensor(std, dtype=torch.float32).view(shape))

        def forward(self, x):
            if self.mean is not None:
                x = x - self.mean
            if self.std is not None:
                x = x / self.std
            return self.model(x)

    return Normalized().eval()


def native_model(arch: str, module: Any, variables: dict[str, Any], weights: Path | None) -> Any:
    """The architecture's own torch model holding the original checkpoint (see the module docstring)."""
    import torch

    if arch == "small_cnn":
        return digits_cnn_torch(variables)
    if arch not in NATIVE_ARCHITECTURES:
        raise InputError(f"no native torch model for {arch!r} (native: {', '.join(NATIVE_ARCHITECTURES)}); "
                         "use --reference bridge to run the reference's attacks on the alignjax model")
    from alignjax.weights.readers import read_state_dict

    if weights is None:
        raise InputError(f"--reference native for {arch} needs the original PyTorch checkpoint as --weights")
    state = read_state_dict(weights)
    if state and all(k.startswith(("params/", "batch_stats/")) for k in state):
        raise InputError(f"{weights} holds converted Flax weights; --reference native needs the original "
                         "PyTorch checkpoint (or use --reference bridge)")
    num_classes = int(module.num_classes)
    if arch == "cifar_resnet18":
        from pyautoattack.examples.resnet import BasicBlock, ResNet

        if getattr(module, "pre_activation", False):
            raise InputError("pyautoattack's ResNet18 has no pre-activation variant; use --reference bridge")
        net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)  # = examples.resnet.ResNet18()
    else:
        timm = import_timm()
        if timm is None:
            raise InputError(f"the native torch {arch} needs timm, which is not importable here "
                             "(pip install timm); or use --reference bridge")
        net = timm.create_model(TIMM_ARCHITECTURES[arch], pretrained=False, num_classes=num_classes)
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    missing, unexpected = net.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise InputError(f"{weights} does not fit the torch {arch}: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}; use --reference bridge if the alignjax conversion handles it")
    return _normalized(net.eval(), getattr(module, "mean", None), getattr(module, "std", None))


def _bucket(n: int) -> int:
    """Padded batch size: the next power of two, so the bridge compiles O(log n) shapes."""
    return 1 << max(0, (n - 1).bit_length())


def bridge_model(logits_fn: Any, variables: Any, *, seed: int = 0) -> Any:
    """A torch module computing ``logits_fn(variables, x)`` in JAX, differentiable through ``jax.vjp``.

    Inputs are NCHW torch tensors (as the reference passes them); batches are padded to powers of two.
    A stochastic model (``types.Model.stochastic``) gets a fresh key for every forward pass; its backward
    pass reuses the key of its forward pass.
    """
    import jax
    import jax.numpy as jnp
    import torch
    from torch import nn

    forward = jax.jit(lambda params, x, key: call_model(logits_fn, params, x, key))

    @jax.jit
    def backward(params, x, key, cotangent):
        _, vjp = jax.vjp(lambda images: call_model(logits_fn, params, images, key), x)
        return vjp(cotangent)[0]

    params = jax.device_put(variables)
    state = {"calls": 0}
    base_key = jax.random.key(seed)

    def padded(x: Any) -> tuple[np.ndarray, int]:
        images = np.transpose(x.detach().cpu().numpy().astype(np.float32), (0, 2, 3, 1))
        n = len(images)
        fill = np.repeat(images[:1], _bucket(n) - n, axis=0)
        return np.concatenate([images, fill]), n

    class JaxLogits(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            images, n = padded(x)
            key = jax.random.fold_in(base_key, state["calls"])
            state["calls"] += 1
            ctx.saved = (images, n, key)
            logits = np.asarray(jax.device_get(forward(params, jnp.asarray(images), key)))[:n]
            return torch.from_numpy(np.array(logits, np.float32)).to(x.device)

        @staticmethod
        def backward(ctx, grad_output):
            images, n, key = ctx.saved
            cotangent = np.zeros((len(images), grad_output.shape[1]), np.float32)
            cotangent[:n] = grad_output.detach().cpu().numpy()
            grad = np.asarray(jax.device_get(backward(params, jnp.asarray(images), key, jnp.asarray(cotangent))))
            return torch.from_numpy(np.array(np.transpose(grad[:n], (0, 3, 1, 2)))).to(grad_output.device)

    class Bridge(nn.Module):
        def forward(self, x):
            return JaxLogits.apply(x)

    return Bridge().eval()
