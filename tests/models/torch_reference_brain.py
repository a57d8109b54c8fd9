"""PyTorch references for dicarlolab's CORnet-Z / CORnet-S and VOneResNet-50 (tests only).

Neither has an installable upstream (dicarlolab's ``cornet`` and ``vonenet`` are not on the package
index), so these are re-written for this project from the public repositories, not vendored, with the
upstream parameter names and forward passes and configurable widths/depths so that tests can build
tiny models:

- ``CORnetZ``, ``CORnetS``: ``dicarlolab/CORnet@d0cc17d:cornet/cornet_z.py``, ``cornet/cornet_s.py``.
- ``VOneResNet50``: ``dicarlolab/vonenet@3c3a0b2:vonenet/{vonenet,modules,back_ends,utils}.py``.

At those commits' full sizes (``CORnetZ()``, ``CORnetS()``, ``VOneResNet50()`` against upstream's
``CORnet_Z()``, ``CORnet_S()``, ``VOneNet('resnet50')`` with noise off) these give the same state-dict
names and shapes and the same eval-mode logits as the upstream code.

All take NCHW inputs that are already normalised (the Flax models normalise internally).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------ CORnet


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class Identity(nn.Module):
    def forward(self, x):
        return x


class CORblockZ(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
        self.nonlin = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.output = Identity()

    def forward(self, x):
        return self.output(self.pool(self.nonlin(self.conv(x))))


def _decoder(width, num_classes):
    return nn.Sequential(
        OrderedDict(
            [
                ("avgpool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", Flatten()),
                ("linear", nn.Linear(width, num_classes)),
                ("output", Identity()),
            ]
        )
    )


def CORnetZ(widths=(64, 128, 256, 512), num_classes=1000):
    return nn.Sequential(
        OrderedDict(
            [
                ("V1", CORblockZ(3, widths[0], kernel_size=7, stride=2)),
                ("V2", CORblockZ(widths[0], widths[1])),
                ("V4", CORblockZ(widths[1], widths[2])),
                ("IT", CORblockZ(widths[2], widths[3])),
                ("decoder", _decoder(widths[3], num_classes)),
            ]
        )
    )


class CORblockS(nn.Module):
    scale = 4

    def __init__(self, in_channels, out_channels, times=1):
        super().__init__()
        self.times = times
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.skip = nn.Conv2d(out_channels, out_channels, kernel_size=1, stride=2, bias=False)
        self.norm_skip = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(out_channels, out_channels * self.scale, kernel_size=1, bias=False)
        self.nonlin1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            out_channels * self.scale,
            out_channels * self.scale,
            kernel_size=3,
            stride=2,
            padding=1,
            bias=False,
        )
        self.nonlin2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(out_channels * self.scale, out_channels, kernel_size=1, bias=False)
        self.nonlin3 = nn.ReLU(inplace=True)
        self.output = Identity()
        for t in range(self.times):
            setattr(self, f"norm1_{t}", nn.BatchNorm2d(out_channels * self.scale))
            setattr(self, f"norm2_{t}", nn.BatchNorm2d(out_channels * self.scale))
            setattr(self, f"norm3_{t}", nn.BatchNorm2d(out_channels))

    def forward(self, inp):
        x = self.conv_input(inp)
        for t in range(self.times):
            if t == 0:
                skip = self.norm_skip(self.skip(x))
                self.conv2.stride = (2, 2)
            else:
                skip = x
                self.conv2.stride = (1, 1)
            x = self.nonlin1(getattr(self, f"norm1_{t}")(self.conv1(x)))
            x = self.nonlin2(getattr(self, f"norm2_{t}")(self.conv2(x)))
            x = getattr(self, f"norm3_{t}")(self.conv3(x))
            x += skip
            x = self.nonlin3(x)
            output = self.output(x)
        return output


def CORnetS(widths=(64, 128, 256, 512), times=(2, 4, 2), num_classes=1000):
    v1 = widths[0]
    return nn.Sequential(
        OrderedDict(
            [
                (
                    "V1",
                    nn.Sequential(
                        OrderedDict(
                            [
                                ("conv1", nn.Conv2d(3, v1, kernel_size=7, stride=2, padding=3, bias=False)),
                                ("norm1", nn.BatchNorm2d(v1)),
                                ("nonlin1", nn.ReLU(inplace=True)),
                                ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                                ("conv2", nn.Conv2d(v1, v1, kernel_size=3, stride=1, padding=1, bias=False)),
                                ("norm2", nn.BatchNorm2d(v1)),
                                ("nonlin2", nn.ReLU(inplace=True)),
                                ("output", Identity()),
                            ]
                        )
                    ),
                ),
                ("V2", CORblockS(widths[0], widths[1], times=times[0])),
                ("V4", CORblockS(widths[1], widths[2], times=times[1])),
                ("IT", CORblockS(widths[2], widths[3], times=times[2])),
                ("decoder", _decoder(widths[3], num_classes)),
            ]
        )
    )


# ---------------------------------------------------------------------------------------- VOneNet


def gabor_kernel(frequency, sigma_x, sigma_y, theta=0.0, offset=0.0, ks=61):
    """vonenet ``utils.gabor_kernel`` (meshgrid 'ij' indexing, torch's default)."""
    w = ks // 2
    grid_val = torch.arange(-w, w + 1, dtype=torch.float)
    x, y = torch.meshgrid(grid_val, grid_val, indexing="ij")
    rotx = x * np.cos(theta) + y * np.sin(theta)
    roty = -x * np.sin(theta) + y * np.cos(theta)
    g = torch.exp(-0.5 * (rotx**2 / sigma_x**2 + roty**2 / sigma_y**2))
    g /= 2 * np.pi * sigma_x * sigma_y
    g *= torch.cos(2 * np.pi * frequency * rotx + offset)
    return g


class GFB(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=4):
        super().__init__()
        self.in_channels = in_channels
        self.stride = (stride, stride)
        self.padding = (kernel_size // 2, kernel_size // 2)
        self.kernel_size = kernel_size
        self.weight = torch.zeros((out_channels, in_channels, kernel_size, kernel_size))

    def forward(self, x):
        return F.conv2d(x, self.weight, None, self.stride, self.padding)

    def initialize(self, sf, theta, sigx, sigy, phase, generator):
        random_channel = torch.randint(0, self.in_channels, (self.weight.shape[0],), generator=generator)
        for i in range(self.weight.shape[0]):
            self.weight[i, random_channel[i]] = gabor_kernel(
                sf[i], sigx[i], sigy[i], theta[i], phase[i], ks=self.kernel_size
            )
        self.weight = nn.Parameter(self.weight, requires_grad=False)


class VOneBlock(nn.Module):
    """vonenet ``modules.VOneBlock``; ``noise`` (if given) replaces the standard normal draw."""

    def __init__(
        self,
        simple_channels,
        complex_channels,
        ksize=25,
        stride=4,
        k_exc=25.0,
        noise_mode=None,
        noise_scale=0.35,
        noise_level=0.07,
        seed=0,
        image_size=224,
        visual_degrees=8,
    ):
        super().__init__()
        out_channels = simple_channels + complex_channels
        rng = np.random.default_rng(seed)  # stands in for vonenet's generate_gabor_param
        ppd = image_size / visual_degrees
        sf = rng.uniform(0.5, 8.0, out_channels) / ppd
        sigx = rng.uniform(0.1, 1.6, out_channels) / sf
        sigy = rng.uniform(0.1, 1.6, out_channels) / sf
        theta = rng.uniform(0, np.pi, out_channels)
        phase = rng.uniform(0, 2 * np.pi, out_channels)
        self.simple_channels = simple_channels
        self.k_exc = k_exc
        self.noise_mode, self.noise_scale, self.noise_level = noise_mode, noise_scale, noise_level
        self.fixed_noise = None
        self.simple_conv_q0 = GFB(3, out_channels, ksize, stride)
        self.simple_conv_q1 = GFB(3, out_channels, ksize, stride)
        generator = torch.Generator().manual_seed(seed)  # consumed in turn, as vonenet's global RNG is
        self.simple_conv_q0.initialize(sf, theta, sigx, sigy, phase, generator)
        self.simple_conv_q1.initialize(sf, theta, sigx, sigy, phase + np.pi / 2, generator)

    def forward(self, x):
        return self.noise_f(self.gabors_f(x))

    def gabors_f(self, x):
        s_q0 = self.simple_conv_q0(x)
        s_q1 = self.simple_conv_q1(x)
        c = torch.sqrt(s_q0[:, self.simple_channels :] ** 2 + s_q1[:, self.simple_channels :] ** 2) / np.sqrt(
            2
        )
        s = F.relu(s_q0[:, : self.simple_channels])
        return self.k_exc * torch.cat((s, c), 1)

    def noise_f(self, x):
        """Noise from ``self.fixed_noise`` (vonenet's ``fix_noise`` path), then ReLU."""
        if self.noise_mode == "neuronal":
            eps = 10e-5
            x = x * self.noise_scale + self.noise_level
            x = x + self.fixed_noise * torch.sqrt(F.relu(x) + eps)
            x = (x - self.noise_level) / self.noise_scale
        elif self.noise_mode == "gaussian":
            x = x + self.fixed_noise * self.noise_scale
        return F.relu(x)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetBackEnd(nn.Module):
    """vonenet ``back_ends.ResNetBackEnd``: torchvision ResNet without conv1/bn1/relu/maxpool."""

    def __init__(self, layers=(3, 4, 6, 3), widths=(64, 128, 256, 512), in_planes=64, num_classes=1000):
        super().__init__()
        self.inplanes = in_planes
        for i, (blocks, planes) in enumerate(zip(layers, widths)):
            setattr(self, f"layer{i + 1}", self._make_layer(planes, blocks, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * 4, num_classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def VOneResNet50(
    simple_channels=256,
    complex_channels=256,
    ksize=25,
    stride=4,
    k_exc=25.0,
    noise_mode=None,
    layers=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    num_classes=1000,
    seed=0,
):
    vone = VOneBlock(
        simple_channels,
        complex_channels,
        ksize=ksize,
        stride=stride,
        k_exc=k_exc,
        noise_mode=noise_mode,
        seed=seed,
    )
    bottleneck = nn.Conv2d(simple_channels + complex_channels, widths[0], kernel_size=1, stride=1, bias=False)
    return nn.Sequential(
        OrderedDict(
            [
                ("vone_block", vone),
                ("bottleneck", bottleneck),
                ("model", ResNetBackEnd(layers, widths, in_planes=widths[0], num_classes=num_classes)),
            ]
        )
    )
