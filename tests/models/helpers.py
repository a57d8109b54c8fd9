"""Shared helpers for the model tests: the upstream torch modules, seeded randomisation, and the one
torch-vs-Flax comparison every architecture test goes through.

Upstream code is the reference wherever it installs:

- torchvision (``torchvision_models``), imported as it is: the test extra pins a torch/torchvision pair
  of one build (PyPI's), whose compiled ops load.
- timm (``timm.create_model(name, pretrained=False)``).
- RobustBench (``robustbench_architecture``): installed with ``pip install --no-deps robustbench==1.1.1``;
  its metadata pins ``timm==1.0.9``, which conflicts with the test extra, so the extra cannot list it
  and a fresh ``pip install -e '.[test]'`` goes without; ``torch_reference_robustbench.py`` stands in
  then. Its package ``__init__`` imports data loaders and every model zoo entry, so the architecture
  files (plain torch) are loaded by path from the installed package without running it.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import numpy as np
import torch
from torch import nn

from alignjax.weights.convert import convert_state_dict
from alignjax.weights.strict import expected_shapes

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)

ROBUSTBENCH_VERSION = "1.1.1"
ROBUSTBENCH_INSTALL = f"pip install --no-deps robustbench=={ROBUSTBENCH_VERSION}"


# --- upstream packages -------------------------------------------------------------------------------

@functools.cache
def torchvision_models() -> ModuleType:
    """``torchvision.models``."""
    import torchvision.models

    return torchvision.models


@functools.cache
def timm_module() -> ModuleType:
    """``timm``."""
    import timm

    return timm


def robustbench_file(name: str) -> Path | None:
    """``robustbench/model_zoo/architectures/<name>.py`` of the installed RobustBench, or None."""
    spec = importlib.util.find_spec("robustbench")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model_zoo" / "architectures" / f"{name}.py"


@functools.cache
def robustbench_architecture(name: str) -> ModuleType:
    """RobustBench's ``model_zoo/architectures/<name>.py`` loaded by path from the installed package, or,
    where RobustBench is not installed (the test extra cannot pull it in), the re-written stand-in
    ``tests.models.torch_reference_robustbench`` with the same constructors."""
    path = robustbench_file(name)
    if path is None:
        from tests.models import torch_reference_robustbench

        return torch_reference_robustbench
    module_name = f"_robustbench_architectures_{name}"
    file_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[module_name] = module
    file_spec.loader.exec_module(module)
    return module


# --- seeded random models ----------------------------------------------------------------------------

_BATCH_NORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def build_uninitialised(factory: Callable[[], nn.Module]) -> nn.Module:
    """``factory()`` built on the meta device and materialised, uninitialised, on the CPU.

    For models that ``randomize`` (without ``keep``) then overwrites entirely: it skips upstream's own
    initialisation (seconds for ViT-B's truncated normals). BatchNorm statistics are reset; a model
    with any other buffer (e.g. DMWideResNet's non-persistent mean/std) is built normally instead.
    """
    with torch.device("meta"):
        model = factory()
    if any(not name.endswith(_BATCH_NORM_BUFFERS) for name, _ in model.named_buffers()):
        return factory()
    model = model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
    return model


def randomize(
    model: nn.Module, calibration: np.ndarray, *, seed: int = 0, keep: tuple[str, ...] = ()
) -> nn.Module:
    """Seeded random weights with randomised BatchNorm statistics, in eval mode; returns ``model``.

    Weights (>= 2 dims) are N(0, 1/fan_in); norm scales U(0.5, 1.5); other vectors (biases, layer
    scales) and tokens N(0, 0.2) and N(0, 0.5). BatchNorm running statistics start from the batch
    statistics of ``calibration`` (an NHWC batch as the torch model takes it, after any normalisation
    the Flax model does inside), so activations stay O(1) at full depth, and are then randomised per
    channel: ``mean += N(0, 0.2) * s``, ``var = U(0.5, 2) * s**2`` with ``s**2`` the layer's mean batch
    variance. Without the calibration a deep ResNet's logits reach 1e3; with per-channel batch variances
    the nearly constant channels are divided by ~sqrt(eps) and fp32 rounding alone (torch against
    torch in float64) exceeds 1e-4. Either way no absolute tolerance would be meaningful.

    Parameters whose name contains one of ``keep`` are left as they are (VOneNet's fixed Gabor banks).
    """
    generator = torch.Generator().manual_seed(seed)

    def normal(shape, scale):
        return torch.randn(shape, generator=generator) * scale

    with torch.no_grad():
        norm_weights = {
            id(module.weight)
            for module in model.modules()
            if isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm))
            and getattr(module, "weight", None) is not None
        }
        for name, parameter in model.named_parameters():
            if any(part in name for part in keep):
                continue
            if id(parameter) in norm_weights:
                parameter.copy_(torch.rand(parameter.shape, generator=generator) + 0.5)
            elif parameter.dim() >= 2 and "token" not in name and "pos_embed" not in name:
                fan_in = int(np.prod(parameter.shape[1:]))
                parameter.copy_(normal(parameter.shape, fan_in**-0.5))
            elif parameter.dim() >= 2:
                parameter.copy_(normal(parameter.shape, 0.5))
            else:
                parameter.copy_(normal(parameter.shape, 0.2))
        batch_norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if batch_norms:
            momenta = [m.momentum for m in batch_norms]
            for module in batch_norms:
                module.momentum = 1.0  # running statistics := this batch's statistics
            model.train()
            model(nchw(calibration))
            for module, momentum in zip(batch_norms, momenta, strict=True):
                module.momentum = momentum
                layer_var = module.running_var.mean()
                if not layer_var > 0:
                    raise ValueError(f"calibration batch too small: no variance before {module}")
                shape = module.running_var.shape
                module.running_mean.add_(normal(shape, 0.2) * layer_var.sqrt())
                module.running_var.copy_((torch.rand(shape, generator=generator) * 1.5 + 0.5) * layer_var)
        _scale_classifiers(model.eval(), calibration)
    return model


def _scale_classifiers(model: nn.Module, calibration: np.ndarray) -> None:
    """Scales the linear layers that produce the logits so that the logits' standard deviation on
    ``calibration`` is 1: then 1e-4 absolute is ~3e-5 relative to the largest logit, about the fp32
    rounding floor of the deepest nets (torch float32 against torch float64 on ResNet-152)."""
    logits = model(nchw(calibration))
    heads = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == logits.shape[-1]]
    if not heads:
        raise ValueError(f"no linear layer with {logits.shape[-1]} outputs in {type(model).__name__}")
    factor = 1.0 / float(logits.std())
    for head in heads:
        head.weight.mul_(factor)
        if head.bias is not None:
            head.bias.mul_(factor)


def random_variables(module: Any, input_shape: tuple[int, int, int], *, seed: int = 0) -> dict[str, Any]:
    """Seeded random Flax variables of ``module`` from shapes only (``module.init`` of a VGG takes a
    minute on a busy CPU): kernels N(0, 1/fan_in), scales U(0.5, 1.5), biases N(0, 0.1), BatchNorm
    means N(0, 0.2) and variances U(0.5, 2)."""
    from alignjax.models.embedded import unflatten

    generator = np.random.default_rng(seed)
    flat = {}
    for name, shape in expected_shapes(module, input_shape).items():
        leaf = name.rsplit("/", 1)[-1]
        if leaf == "kernel":
            value = generator.normal(size=shape) / np.sqrt(np.prod(shape[:-1]))
        elif leaf in ("scale", "var"):
            value = generator.uniform(0.5, 1.5 if leaf == "scale" else 2.0, size=shape)
        else:
            value = generator.normal(scale=0.2 if leaf == "mean" else 0.1, size=shape)
        flat[name] = value.astype(np.float32)
    return unflatten(flat)


# --- conversions and counts --------------------------------------------------------------------------


def nchw(x_nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.transpose(np.asarray(x_nhwc, np.float32), (0, 3, 1, 2))))


def nhwc(x_nchw: torch.Tensor) -> np.ndarray:
    return np.transpose(x_nchw.detach().cpu().numpy(), (0, 2, 3, 1))


def numpy_state_dict(model: nn.Module) -> dict[str, np.ndarray]:
    # copies: torch mutates BatchNorm buffers in place, and JAX on CPU may alias numpy memory
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flax_parameter_count(module: Any, input_shape: tuple[int, int, int]) -> int:
    """Number of entries in ``params`` (not ``batch_stats``), from shapes only (``jax.eval_shape``)."""
    shapes = expected_shapes(module, input_shape)
    return sum(int(np.prod(shape)) for name, shape in shapes.items() if name.startswith("params/"))


def normalized(x_nhwc: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    return ((x_nhwc - np.float32(mean)) / np.float32(std)).astype(np.float32)


def torch_logits(model: nn.Module, x_nhwc: np.ndarray) -> np.ndarray:
    """Eval-mode float32 logits of NHWC numpy images, TF32 off."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        return model.eval()(nchw(x_nhwc)).numpy()


def flax_logits(module: Any, variables: Mapping[str, Any], x_nhwc: np.ndarray) -> np.ndarray:
    return np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x_nhwc))


def _readout_weights(classes: int, xp: Any = np) -> Any:
    """The fixed linear read-out of the logits whose input gradient is compared: weights -1 .. 1."""
    return xp.linspace(-1.0, 1.0, classes, dtype=xp.float32)


def flax_logits_and_input_gradient(
    module: Any, variables: Mapping[str, Any], x_nhwc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode logits and the input gradient of ``_readout_weights`` . logits, one jitted program."""
    import jax.numpy as jnp

    def readout(images, variables):
        logits = module.apply(variables, images, train=False)
        return jnp.sum(logits * _readout_weights(logits.shape[-1], jnp)[None, :]), logits

    gradient, logits = jax.jit(jax.grad(readout, has_aux=True))(jnp.asarray(x_nhwc, jnp.float32), variables)
    return np.asarray(logits), np.asarray(gradient)


def torch_input_gradient(
    model: nn.Module, x_nhwc: np.ndarray, torch_input: Callable[[np.ndarray], np.ndarray] | None
) -> np.ndarray:
    """Float32 NHWC input gradient of ``_readout_weights`` . logits with respect to the [0, 1] images:
    with respect to what the torch model sees, times the per-channel slope of the affine ``torch_input``."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    inputs = nchw(x_nhwc if torch_input is None else torch_input(x_nhwc)).requires_grad_(True)
    logits = model.eval()(inputs)
    (gradient,) = torch.autograd.grad((logits * torch.from_numpy(_readout_weights(logits.shape[-1]))).sum(), inputs)
    if torch_input is None:
        return nhwc(gradient)
    channels = x_nhwc.shape[-1]
    slope = torch_input(np.ones((1, 1, 1, channels), np.float32)) - torch_input(np.zeros((1, 1, 1, channels), np.float32))
    return nhwc(gradient) * slope.reshape(1, 1, 1, channels)


# cosine similarity of the Flax and torch input gradients at full size (measured 2026-12-08: >= 0.99991
# for every default-run architecture, 1.0000000 for 15 of the 28); the logits are compared elementwise
MIN_GRADIENT_COSINE = 0.999


def _check_input_gradient(arch: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    """Full-size input gradients agree as vectors, not element by element: ReLU networks' gradients
    are discontinuous, and a pre-activation within float32 rounding of 0 (one in 30 000 in a random
    PreActResNet-18 at 32x32) takes a different sign in Flax and in torch, changing that unit's whole
    contribution (a few percent of the largest gradient entry), which torch in float64 does not
    settle either. Also what ``test_every_architecture_attackable`` asks of a real-size gradient:
    finite and non-zero at more than half of the input."""
    assert ours.shape == theirs.shape and ours.dtype == np.float32, (arch, ours.shape, theirs.shape)
    assert np.isfinite(ours).all(), f"{arch}: non-finite input gradient under jit"
    nonzero = float(np.mean(ours != 0))
    assert nonzero > 0.5, f"{arch}: input gradient non-zero at only {nonzero:.1%} of the input"
    a, b = ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64)
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    print(f"{arch}: input gradient cosine {cosine:.7f}")
    assert cosine >= MIN_GRADIENT_COSINE, f"{arch}: input gradient cosine similarity to torch's {cosine:.5f}"


def compare_with_upstream(
    arch: str,
    torch_model: nn.Module,
    x_nhwc: np.ndarray,
    *,
    torch_input: Callable[[np.ndarray], np.ndarray] | None = None,
    atol: float = 1e-4,
    input_gradient: bool = False,
    **arch_kwargs: Any,
) -> np.ndarray:
    """Converts ``torch_model``'s state dict through ``alignjax.weights.convert.convert_state_dict`` (the
    registered key map, then the strict check against ``build_architecture(arch,
    **arch_kwargs)``) and asserts equal eval-mode float32 logits within ``atol`` (absolute), or, where
    upstream's own float32 rounding exceeds ``atol``, as close to upstream's float64 logits as upstream's
    float32 ones are (``_assert_within_float32_rounding``).

    ``torch_input`` maps the NHWC input to what the torch model sees (the normalisation torchvision
    and timm leave to the data pipeline; affine per channel). Returns the Flax logits.

    ``input_gradient``: the Flax logits come from ``jax.jit(jax.grad(...))`` of a fixed linear
    read-out of them (one program, as an attack compiles it), and that input gradient is checked
    too (``_check_input_gradient``).
    """
    from alignjax.models import build_architecture

    input_shape = x_nhwc.shape[1:]
    variables = convert_state_dict(
        numpy_state_dict(torch_model), arch, input_shape=input_shape, **arch_kwargs
    )
    module = build_architecture(arch, **arch_kwargs)
    torch_x = x_nhwc if torch_input is None else torch_input(x_nhwc)
    expected = torch_logits(torch_model, torch_x)
    if input_gradient:
        got, gradient = flax_logits_and_input_gradient(module, variables, x_nhwc)
        _check_input_gradient(arch, gradient, torch_input_gradient(torch_model, x_nhwc, torch_input))
    else:
        got = flax_logits(module, variables, x_nhwc)
    assert got.dtype == np.float32 and got.shape == expected.shape
    # The comparison means something only if the logits are neither tiny nor exploding.
    scale = float(np.abs(expected).max())
    assert 0.5 < scale < 100, scale
    if np.abs(got - expected).max() > atol:
        _assert_within_float32_rounding(torch_model, torch_x, got, expected, atol)
    return got


def _assert_within_float32_rounding(
    torch_model: nn.Module, torch_x: np.ndarray, got: np.ndarray, expected: np.ndarray, atol: float
) -> None:
    """For the deepest nets ``atol`` is below float32 rounding: upstream's own float32 logits of a random
    ResNet-152 differ from its float64 ones by ~1.1e-4 (logit std 1). There the Flax logits must be as
    close to upstream's float64 logits as upstream's float32 ones are (within a factor 2)."""
    double = copy.deepcopy(torch_model).double().eval()
    with torch.no_grad():
        exact = double(nchw(torch_x).double()).numpy()
    upstream_error = float(np.abs(expected - exact).max())
    our_error = float(np.abs(got - exact).max())
    assert our_error <= max(atol, 2 * upstream_error), (
        f"|flax - torch| = {np.abs(got - expected).max():.3g} > {atol}; against torch in float64: "
        f"flax {our_error:.3g}, torch float32 {upstream_error:.3g}"
    )


def compare_logits_and_input_gradient(
    arch: str,
    torch_model: nn.Module,
    x_nhwc: np.ndarray,
    *,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    rtol: float = 1e-5,
    **arch_kwargs: Any,
) -> None:
    """The issue-24 equality check: ``torch_model``'s state dict goes through the registered key map and
    the strict check (``convert_state_dict``) into ``build_architecture(arch, **arch_kwargs)``; the Flax
    eval-mode float32 logits and the input gradient of a fixed linear read-out of them must equal
    upstream's within ``rtol`` relative to the largest upstream value (max |flax - torch| / max |torch|).

    ``mean``/``std``: the normalisation upstream leaves to the data pipeline; it is applied in torch,
    so the torch gradient is taken with respect to the same [0, 1] images as the Flax one. Where
    upstream's own float32 result is farther than ``rtol`` from its float64 one (deep nets), Flax must
    be as close to the float64 result as upstream's float32 one is (within a factor 2).
    """
    from alignjax.models import build_architecture

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    variables = convert_state_dict(
        numpy_state_dict(torch_model), arch, input_shape=x_nhwc.shape[1:], **arch_kwargs
    )
    module = build_architecture(arch, **arch_kwargs)

    def torch_side(model: nn.Module, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
        x = nchw(x_nhwc).to(dtype).requires_grad_(True)
        inputs = x
        if mean is not None:
            shift = torch.tensor(mean, dtype=dtype).reshape(1, -1, 1, 1)
            scale = torch.tensor(std, dtype=dtype).reshape(1, -1, 1, 1)
            inputs = (x - shift) / scale
        logits = model.eval()(inputs)
        weights = torch.from_numpy(_readout_weights(logits.shape[-1])).to(dtype)
        (gradient,) = torch.autograd.grad((logits * weights).sum(), x)
        return logits.detach().numpy(), nhwc(gradient)

    expected = torch_side(torch_model, torch.float32)
    got = flax_logits_and_input_gradient(module, variables, x_nhwc)
    exact = None
    for what, ours, theirs, index in (("logits", got[0], expected[0], 0), ("input gradient", got[1], expected[1], 1)):
        assert ours.shape == theirs.shape and ours.dtype == np.float32, (what, ours.shape, theirs.shape)
        scale = float(np.abs(theirs).max())
        assert scale > 0 and np.isfinite(ours).all(), what
        error = float(np.abs(ours - theirs).max()) / scale
        if error <= rtol:
            continue
        if exact is None:
            exact = torch_side(copy.deepcopy(torch_model).double(), torch.float64)
        upstream_error = float(np.abs(theirs - exact[index]).max()) / scale
        our_error = float(np.abs(ours - exact[index]).max()) / scale
        assert our_error <= max(rtol, 2 * upstream_error), (
            f"{arch} {what}: |flax - torch| / max|torch| = {error:.3g} > {rtol}; against torch in float64: "
            f"flax {our_error:.3g}, torch float32 {upstream_error:.3g}"
        )
