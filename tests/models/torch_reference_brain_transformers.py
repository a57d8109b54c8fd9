"""PyTorch reference modules with the public parameter names of timm ViT/DeiT and ConvNeXt,
dicarlolab CORnet-Z/CORnet-S and dicarlolab VOneResNet-50 (tests only; written for this project, not
vendored). Each follows the forward pass of its public counterpart so that a random model converted
to Flax must reproduce its logits:

- ``TimmViT``: timm ``vision_transformer.VisionTransformer`` / ``deit.VisionTransformerDistilled``.
- ``TimmConvNeXt``: timm ``convnext.ConvNeXt`` (channels-last LayerNorm + Linear MLP blocks).
- ``CORnetZ``, ``CORnetS``: ``dicarlolab/CORnet@d0cc17d:cornet/cornet_{z,s}.py``.
- ``VOneResNet50``: ``dicarlolab/vonenet@3c3a0b2:vonenet/{vonenet,modules,back_ends}.py``.

All take NCHW inputs that are already normalised (the Flax models normalise internally).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------- timm ViT


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimmViT(nn.Module):
    def __init__(
        self,
        img_size=224,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        num_classes=1000,
        distilled=False,
    ):
        super().__init__()
        num_patches = (img_size // patch_size) ** 2
        self.distilled = distilled
        self.num_prefix = 2 if distilled else 1
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02)
        if distilled:
            self.dist_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + self.num_prefix, embed_dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        if distilled:
            self.head_dist = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        prefix = [self.cls_token.expand(x.shape[0], -1, -1)]
        if self.distilled:
            prefix.append(self.dist_token.expand(x.shape[0], -1, -1))
        x = torch.cat([*prefix, x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        if self.distilled:  # timm VisionTransformerDistilled.forward_head at inference
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        return self.head(x[:, 0])


# ------------------------------------------------------------------------------------ timm ConvNeXt


class LayerNorm2d(nn.LayerNorm):
    """timm LayerNorm2d: LayerNorm over channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim, ls_init_value=1e-6):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma = nn.Parameter(ls_init_value * torch.ones(dim))

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x).permute(0, 2, 3, 1)
        x = self.mlp(self.norm(x)).permute(0, 3, 1, 2)
        x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        return x + shortcut


class ConvNeXtStage(nn.Module):
    def __init__(self, in_chs, out_chs, depth, stride):
        super().__init__()
        if in_chs != out_chs or stride > 1:
            self.downsample = nn.Sequential(
                LayerNorm2d(in_chs, eps=1e-6), nn.Conv2d(in_chs, out_chs, kernel_size=stride, stride=stride)
            )
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(*[ConvNeXtBlock(out_chs) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class NormMlpClassifierHead(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = x.mean((2, 3), keepdim=True)
        return self.fc(self.norm(x).flatten(1))


class TimmConvNeXt(nn.Module):
    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0], eps=1e-6)
        )
        stages, prev = [], dims[0]
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            stages.append(ConvNeXtStage(prev, dim, depth, stride=1 if i == 0 else 2))
            prev = dim
        self.stages = nn.Sequential(*stages)
        self.head = NormMlpClassifierHead(dims[-1], num_classes)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


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


# ----------------------------------------------------------------------------------------- helpers


def randomize_(model: nn.Module, seed: int = 0, scale: float = 0.5) -> nn.Module:
    """Fills every parameter and BatchNorm buffer with seeded random values (eval-mode stats non-trivial)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked") or "simple_conv_q" in name:
                continue
            if name in ("cls_token", "dist_token", "pos_embed"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.dim() >= 2:
                fan_in = math.prod(tensor.shape[1:])
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / math.sqrt(fan_in))
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale)
    return model.eval()


def state_dict_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}  # no aliasing


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
