"""VOneResNet-50 (Dapello, Marques, Schrimpf et al. 2020, "Simulating a primary visual cortex at the
front of CNNs improves robustness to image perturbations").

Reference: ``dicarlolab/vonenet@3c3a0b2:vonenet/{vonenet,modules,params,utils,back_ends}.py``. The
model is ``Sequential(vone_block, bottleneck, model)``:

- ``vone_block`` (``VOneBlock``): a fixed Gabor filter bank applied twice, in quadrature
  (``simple_conv_q0``/``simple_conv_q1``, kernels (C, 3, 25, 25), stride 4, padding 12; each output
  channel reads one random input colour channel). The first ``simple_channels`` outputs are simple cells
  ``relu(q0)``, the rest complex cells ``sqrt(q0**2 + q1**2) / sqrt(2)``; all are scaled by ``k_exc``,
  get stochastic noise, and a final ReLU;
- ``bottleneck``: a bias-free 1x1 conv to 64 channels (no norm, no ReLU);
- ``model``: torchvision ResNet-50 without conv1/bn1/relu/maxpool (``alignjax.models.resnet``, stem=False).

Inputs are normalised with mean = std = (0.5, 0.5, 0.5), as vonenet's training script does.

Noise. ``noise_mode=None`` (the default here) is the deterministic model used for attacks: only the
final ReLU remains. ``'neuronal'`` (what the public checkpoints were trained with, scale 0.35, level
0.07) adds Poisson-like noise ``N(0, 1) * sqrt(relu(a) + 1e-4)`` to ``a = x * scale + level`` and maps
back; ``'gaussian'`` adds ``N(0, 1) * scale``. With noise on, ``apply`` needs ``rngs={'noise': key}``:
the same key gives the same logits.

Deliberate deviations:
- the complex-cell square root has a zero (not NaN/inf) gradient where ``q0 = q1 = 0``; the forward
  pass is unchanged;
- the Gabor kernels are constants (``stop_gradient``), as torch's ``requires_grad=False``;
- their *initial* value (used only without a checkpoint) draws the Gabor parameters exactly as
  ``params.generate_gabor_param`` (NumPy seed 0) but picks each filter's colour channel with NumPy
  instead of ``torch.randint``; converted checkpoints carry the real kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from alignjax.models.fast_conv import fast_conv_general_dilated
from alignjax.models.registry import register_architecture
from alignjax.models.resnet import ResNet, conv, normalize

NOISE_MODES = (None, "neuronal", "gaussian")
_NEURONAL_EPS = 10e-5  # sic: vonenet's modules.py writes 10e-5 (= 1e-4)


def generate_gabor_param(
    features: int, seed: int = 0, sf_corr: float = 0.75, sf_max: float = 9.0, sf_min: float = 0.0
) -> tuple[np.ndarray, ...]:
    """vonenet ``params.generate_gabor_param`` with ``rand_flag=False`` (neuronal distributions).

    Returns:
      (sf cycles/deg, orientation deg, phase deg, nx, ny), each of shape (features,).
    """
    from scipy import stats

    rng = np.random.RandomState(seed)  # the stream of np.random.seed(seed) used by the reference
    ori_bins = np.array([-22.5, 22.5, 67.5, 112.5, 157.5])
    ori_dist = np.array([66, 49, 77, 54]) / 246.0
    nx_bins = np.logspace(-1, 0.2, 6, base=10)
    ny_bins = np.logspace(-1, 0.2, 6, base=10)
    joint = np.array(
        [[2.0, 0, 1, 0, 0], [8, 9, 4, 1, 0], [1, 2, 19, 17, 3], [0, 0, 1, 7, 4], [0, 0, 0, 0, 0]]
    )
    joint = joint / joint.sum()
    nx_dist = joint.sum(axis=1) / joint.sum()
    with np.errstate(divide="ignore", invalid="ignore"):  # the last row is empty (NaN), never sampled
        ny_dist_marg = joint / joint.sum(axis=1, keepdims=True)
    sf_bins = np.array([0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8])
    sf_dist = np.array([4, 4, 8, 25, 32, 26, 28, 12])
    hi = np.where(sf_bins <= sf_max)[0][-1]
    lo = np.where(sf_bins >= sf_min)[0][0]
    sf_bins, sf_dist = sf_bins[lo : hi + 1], sf_dist[lo:hi]
    sf_dist = sf_dist / sf_dist.sum()

    def sample(hist, bins):
        return np.interp(rng.rand(features), np.hstack(([0], hist.cumsum())), bins)

    phase = sample(np.array([1.0]), np.array([0, 360]))
    ori = sample(ori_dist, ori_bins)
    ori[ori < 0] += 180
    samples = stats.norm.cdf(rng.multivariate_normal([0, 0], [[1, sf_corr], [sf_corr, 1]], features))
    nx = 10 ** np.interp(samples[:, 0], np.hstack(([0], nx_dist.cumsum())), np.log10(nx_bins))
    ny_samples = rng.rand(features)
    ny = np.zeros(features)
    for i, nx_sample in enumerate(nx):
        bin_id = np.argwhere(nx_bins < nx_sample)[-1]
        ny[i] = np.interp(
            ny_samples[i], np.hstack(([0], ny_dist_marg[bin_id, :].cumsum())), np.log10(ny_bins)
        )
    ny = 10**ny
    sf = 2 ** np.interp(samples[:, 1], np.hstack(([0], sf_dist.cumsum())), np.log2(sf_bins))
    return sf, ori, phase, nx, ny


def gabor_kernel(frequency, sigma_x, sigma_y, theta, offset, ks: int) -> np.ndarray:
    """vonenet ``utils.gabor_kernel`` (torch meshgrid's 'ij' indexing), shape (ks, ks)."""
    grid = np.arange(-(ks // 2), ks // 2 + 1, dtype=np.float64)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    rotx = x * np.cos(theta) + y * np.sin(theta)
    roty = -x * np.sin(theta) + y * np.cos(theta)
    g = np.exp(-0.5 * (rotx**2 / sigma_x**2 + roty**2 / sigma_y**2)) / (2 * np.pi * sigma_x * sigma_y)
    return g * np.cos(2 * np.pi * frequency * rotx + offset)


def gabor_bank(
    out_channels: int,
    ksize: int,
    quadrature: int,
    seed: int = 0,
    image_size: int = 224,
    visual_degrees: float = 8.0,
) -> np.ndarray:
    """The VOneBlock's initial filters in HWIO, (ksize, ksize, 3, out_channels); ``quadrature`` 0 or 1."""
    sf, ori, phase, nx, ny = generate_gabor_param(out_channels, seed)
    sf = sf / (image_size / visual_degrees)  # cycles per pixel
    theta, phase = np.deg2rad(ori), np.deg2rad(phase) + quadrature * np.pi / 2
    channel = np.random.RandomState(seed + 1 + quadrature).randint(0, 3, out_channels)
    weight = np.zeros((ksize, ksize, 3, out_channels), np.float32)
    for i in range(out_channels):
        weight[:, :, channel[i], i] = gabor_kernel(
            sf[i], nx[i] / sf[i], ny[i] / sf[i], theta[i], phase[i], ksize
        )
    return weight


class GFB(nn.Module):
    """Gabor filter bank: a fixed, bias-free conv with stride ``stride`` and padding ``ksize // 2``."""

    features: int
    ksize: int = 25
    stride: int = 4
    quadrature: int = 0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def init(key, shape, dtype=jnp.float32):
            del key
            bank = gabor_bank(self.features, self.ksize, self.quadrature)
            if bank.shape != tuple(shape):
                raise ValueError(f"Gabor bank {bank.shape} vs kernel {shape}: VOneNet takes RGB input")
            return jnp.asarray(bank, dtype)

        kernel = self.param("kernel", init, (self.ksize, self.ksize, x.shape[-1], self.features))
        kernel = jax.lax.stop_gradient(kernel)  # torch: nn.Parameter(..., requires_grad=False)
        pad = self.ksize // 2
        return fast_conv_general_dilated(
            x.astype(self.dtype),
            kernel.astype(self.dtype),
            (self.stride, self.stride),
            ((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )


def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt with gradient 0 (not inf) at 0; same values as ``jnp.sqrt`` for x >= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, jnp.ones_like(x))), jnp.zeros_like(x))


def add_noise(x: jax.Array, normal: jax.Array, mode: str, scale: float, level: float) -> jax.Array:
    """vonenet ``VOneBlock.noise_f`` before its ReLU, given standard normal draws ``normal``."""
    if mode == "neuronal":
        x = x * scale + level
        x = x + normal * jnp.sqrt(nn.relu(x) + _NEURONAL_EPS)
        return (x - level) / scale
    if mode == "gaussian":
        return x + normal * scale
    raise ValueError(f"unknown noise_mode {mode!r}; expected one of {NOISE_MODES}")


class VOneBlock(nn.Module):
    """Simple and complex Gabor cells, excitability ``k_exc``, optional noise, ReLU.

    With ``noise_mode`` set, draws from the ``'noise'`` PRNG stream (``rngs={'noise': key}``).
    """

    simple_channels: int = 256
    complex_channels: int = 256
    ksize: int = 25
    stride: int = 4
    k_exc: float = 25.0
    noise_mode: str | None = None
    noise_scale: float = 0.35
    noise_level: float = 0.07
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {self.noise_mode!r}; expected one of {NOISE_MODES}")
        out = self.simple_channels + self.complex_channels
        q0 = GFB(out, self.ksize, self.stride, 0, dtype=self.dtype, name="simple_conv_q0")(x)
        q1 = GFB(out, self.ksize, self.stride, 1, dtype=self.dtype, name="simple_conv_q1")(x)
        s = self.simple_channels
        q0, q1 = q0.astype(jnp.float32), q1.astype(jnp.float32)
        complex_cells = _safe_sqrt(q0[..., s:] ** 2 + q1[..., s:] ** 2) / 2**0.5
        simple_cells = nn.relu(q0[..., :s])
        x = self.k_exc * jnp.concatenate([simple_cells, complex_cells], axis=-1)
        if self.noise_mode is not None:
            normal = jax.random.normal(self.make_rng("noise"), x.shape, jnp.float32)
            x = add_noise(x, normal, self.noise_mode, self.noise_scale, self.noise_level)
        return nn.relu(x).astype(self.dtype)


class VOneResNet50(nn.Module):
    """``vone_block`` -> ``bottleneck`` 1x1 conv -> ResNet-50 back end (``model``).

    Attributes:
      simple_channels, complex_channels, ksize, stride, k_exc, noise_mode, noise_scale, noise_level:
        the VOneBlock (vonenet defaults 256, 256, 25, 4, 25, 'neuronal', 0.35, 0.07; noise off here).
      stage_sizes, width: back-end blocks per stage and ``layer1`` planes (ResNet-50: (3, 4, 6, 3), 64).
      mean, std: input normalisation, (0.5, 0.5, 0.5) for VOneNet.
      dtype: compute dtype; parameters stay float32, the VOne nonlinearity and noise run in float32.
    """

    num_classes: int = 1000
    simple_channels: int = 256
    complex_channels: int = 256
    ksize: int = 25
    stride: int = 4
    k_exc: float = 25.0
    noise_mode: str | None = None
    noise_scale: float = 0.35
    noise_level: float = 0.07
    stage_sizes: Sequence[int] = (3, 4, 6, 3)
    width: int = 64
    mean: Sequence[float] = (0.5, 0.5, 0.5)
    std: Sequence[float] = (0.5, 0.5, 0.5)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = normalize(x, self.mean, self.std)
        x = VOneBlock(
            self.simple_channels,
            self.complex_channels,
            self.ksize,
            self.stride,
            self.k_exc,
            self.noise_mode,
            self.noise_scale,
            self.noise_level,
            dtype=self.dtype,
            name="vone_block",
        )(x)
        x = conv(self.width, 1, 1, 0, self.dtype, "bottleneck")(x)
        back_end = ResNet(
            stage_sizes=tuple(self.stage_sizes),
            bottleneck=True,
            num_classes=self.num_classes,
            width=self.width,
            stem=False,
            dtype=self.dtype,
            name="model",
        )
        return back_end(x, train)


@register_architecture("voneresnet50")
def build_voneresnet50(num_classes: int = 1000, dtype: Any = jnp.float32, **kwargs: Any) -> VOneResNet50:
    """VOneResNet-50, deterministic by default; pass ``noise_mode='neuronal'`` for the stochastic model."""
    return VOneResNet50(num_classes=num_classes, dtype=dtype, **kwargs)
