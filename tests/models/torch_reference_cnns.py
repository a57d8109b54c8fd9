"""PyTorch reference CNNs with the public parameter names, written from the public layouts (tests only).

Superseded in ``tests/models``, which compares with the installed upstream modules (torchvision,
RobustBench, pyautoattack: ``tests/models/references.py``); kept for the tests outside it that still
build tiny models from here (``tests/weights``, ``tests/alignment``). New tests should use
``tests/models/helpers.py``; delete this module once nothing imports it.

- torchvision ResNet / AlexNet / VGG: ``pytorch/vision@v0.20.0:torchvision/models/{resnet,alexnet,vgg}.py``
  with the widths made configurable so tests can build tiny models.
- RobustBench ``PreActResNet``, ``WideResNet`` and ``DMWideResNet``:
  ``robustbench/model_zoo/architectures/{resnet,wide_resnet,dm_wide_resnet}.py``.
- auto-attack's CIFAR ResNet is not copied: tests import ``pyautoattack.examples.resnet``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- torchvision ResNet -----------------------------------------------------------------------------


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class TVBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class TVBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0))
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class TVResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, width=64, width_per_group=64):
        super().__init__()
        self.inplanes = width
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, base_width=self.base_width) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x):
        """The back end alone: layer1 ... fc on a feature map (as VOneNet's ``ResNetBackEnd``)."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.forward_features(x)


# --- torchvision AlexNet and VGG ----------------------------------------------------------------------


class TVAlexNet(nn.Module):
    def __init__(self, num_classes=1000, widths=(64, 192, 384, 256, 256), hidden=4096):
        super().__init__()
        w = widths
        self.features = nn.Sequential(
            nn.Conv2d(3, w[0], kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w[0], w[1], kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w[1], w[2], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(w[2], w[3], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(w[3], w[4], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(w[4] * 6 * 6, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class TVVGG(nn.Module):
    def __init__(self, cfg=VGG16_CFG, batch_norm=False, num_classes=1000, hidden=4096):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for v in cfg:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
                layers += (
                    [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                    if batch_norm
                    else [conv2d, nn.ReLU(True)]
                )
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * 7 * 7, hidden),
            nn.ReLU(True),
            nn.Dropout(p=0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(p=0.5),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --- RobustBench PreActResNet ----------------------------------------------------------------------------


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False)
            )

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(
        self, block=PreActBlock, num_blocks=(2, 2, 2, 2), num_classes=10, widths=(64, 128, 256, 512)
    ):
        super().__init__()
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.layer1 = self._make_layer(block, widths[0], num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, widths[1], num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], num_blocks[3], stride=2)
        self.bn = nn.BatchNorm2d(widths[3] * block.expansion)
        self.linear = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv1(x)
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


# --- RobustBench WideResNet (TRADES layout) -----------------------------------------------------------------


class WRNBasicBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride, dropRate=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.droprate = dropRate
        self.equalInOut = in_planes == out_planes
        self.convShortcut = (
            (not self.equalInOut)
            and nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False)
            or None
        )

    def forward(self, x):
        if not self.equalInOut:
            x = self.relu1(self.bn1(x))
        else:
            out = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(out if self.equalInOut else x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        out = self.conv2(out)
        return torch.add(x if self.equalInOut else self.convShortcut(x), out)


class NetworkBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, out_planes, block, stride, dropRate=0.0):
        super().__init__()
        self.layer = nn.Sequential(
            *[
                block(i == 0 and in_planes or out_planes, out_planes, i == 0 and stride or 1, dropRate)
                for i in range(int(nb_layers))
            ]
        )

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth=28, num_classes=10, widen_factor=10, dropRate=0.0):
        super().__init__()
        n_channels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        assert (depth - 4) % 6 == 0
        n = (depth - 4) / 6
        self.conv1 = nn.Conv2d(3, n_channels[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, n_channels[0], n_channels[1], WRNBasicBlock, 1, dropRate)
        self.block2 = NetworkBlock(n, n_channels[1], n_channels[2], WRNBasicBlock, 2, dropRate)
        self.block3 = NetworkBlock(n, n_channels[2], n_channels[3], WRNBasicBlock, 2, dropRate)
        self.bn1 = nn.BatchNorm2d(n_channels[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(n_channels[3], num_classes)
        self.nChannels = n_channels[3]

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.relu(self.bn1(out))
        out = F.avg_pool2d(out, 8)
        return self.fc(out.view(-1, self.nChannels))


# --- RobustBench DMWideResNet ----------------------------------------------------------------------------------

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class DMBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride, activation_fn=nn.ReLU):
        super().__init__()
        self.batchnorm_0 = nn.BatchNorm2d(in_planes, momentum=0.01)
        self.relu_0 = activation_fn()
        self.conv_0 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=0, bias=False)
        self.batchnorm_1 = nn.BatchNorm2d(out_planes, momentum=0.01)
        self.relu_1 = activation_fn()
        self.conv_1 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.has_shortcut = in_planes != out_planes
        if self.has_shortcut:
            self.shortcut = nn.Conv2d(
                in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False
            )
        else:
            self.shortcut = None
        self._stride = stride

    def forward(self, x):
        if self.has_shortcut:
            x = self.relu_0(self.batchnorm_0(x))
        else:
            out = self.relu_0(self.batchnorm_0(x))
        v = x if self.has_shortcut else out
        if self._stride == 1:
            v = F.pad(v, (1, 1, 1, 1))
        elif self._stride == 2:
            v = F.pad(v, (0, 1, 0, 1))
        else:
            raise ValueError("Unsupported `stride`.")
        out = self.conv_0(v)
        out = self.relu_1(self.batchnorm_1(out))
        out = self.conv_1(out)
        return torch.add(self.shortcut(x) if self.has_shortcut else x, out)


class DMBlockGroup(nn.Module):
    def __init__(self, num_blocks, in_planes, out_planes, stride, activation_fn=nn.ReLU):
        super().__init__()
        self.block = nn.Sequential(
            *[
                DMBlock(i == 0 and in_planes or out_planes, out_planes, i == 0 and stride or 1, activation_fn)
                for i in range(num_blocks)
            ]
        )

    def forward(self, x):
        return self.block(x)


class DMWideResNet(nn.Module):
    def __init__(
        self,
        num_classes=10,
        depth=28,
        width=10,
        activation_fn=Swish,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        padding=0,
        num_input_channels=3,
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(num_input_channels, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(num_input_channels, 1, 1), persistent=False)
        self.padding = padding
        num_channels = [16, 16 * width, 32 * width, 64 * width]
        assert (depth - 4) % 6 == 0
        num_blocks = (depth - 4) // 6
        self.init_conv = nn.Conv2d(
            num_input_channels, num_channels[0], kernel_size=3, stride=1, padding=1, bias=False
        )
        self.layer = nn.Sequential(
            DMBlockGroup(num_blocks, num_channels[0], num_channels[1], 1, activation_fn=activation_fn),
            DMBlockGroup(num_blocks, num_channels[1], num_channels[2], 2, activation_fn=activation_fn),
            DMBlockGroup(num_blocks, num_channels[2], num_channels[3], 2, activation_fn=activation_fn),
        )
        self.batchnorm = nn.BatchNorm2d(num_channels[3], momentum=0.01)
        self.relu = activation_fn()
        self.logits = nn.Linear(num_channels[3], num_classes)
        self.num_channels = num_channels[3]

    def forward(self, x):
        if self.padding > 0:
            x = F.pad(x, (self.padding,) * 4)
        out = (x - self.mean) / self.std
        out = self.layer(self.init_conv(out))
        out = self.relu(self.batchnorm(out))
        out = F.avg_pool2d(out, 8)
        return self.logits(out.view(-1, self.num_channels))


# --- helpers -------------------------------------------------------------------------------------------------


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fills every parameter and BatchNorm buffer with seeded random values that keep activations O(1),
    and puts the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
                module.running_mean.normal_(0.0, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.eval()


def numpy_state_dict(model: nn.Module) -> dict[str, np.ndarray]:
    # copies: torch mutates BatchNorm buffers in place, and JAX on CPU may alias numpy memory
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def torch_logits(model: nn.Module, x_nhwc: np.ndarray) -> np.ndarray:
    """Eval-mode float32 logits for NHWC numpy images (TF32 off)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    x = torch.from_numpy(np.ascontiguousarray(np.transpose(np.asarray(x_nhwc, np.float32), (0, 3, 1, 2))))
    with torch.no_grad():
        return model.eval()(x).numpy()


def flax_parameter_count(module, input_shape: tuple[int, int, int]) -> int:
    """Number of entries in ``params`` (not ``batch_stats``), from shapes only (``jax.eval_shape``)."""
    from alignjax.weights.strict import expected_shapes

    shapes = expected_shapes(module, input_shape)
    return sum(int(np.prod(shape)) for name, shape in shapes.items() if name.startswith("params/"))


def convert_and_compare(
    module,
    torch_model: nn.Module,
    x_nhwc: np.ndarray,
    arch: str,
    *,
    torch_input=None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
) -> np.ndarray:
    """Converts ``torch_model``'s state dict with the converter registered for ``arch``, checks it strictly
    against ``module``, and asserts equal eval-mode logits. ``torch_input`` maps the NHWC input to what the
    torch model sees (e.g. ImageNet normalisation, which torchvision leaves to the data pipeline).

    Returns the Flax logits.
    """
    import jax

    from alignjax.weights.keymaps import get_converter
    from alignjax.weights.strict import check_against_module

    flat = get_converter(arch)(numpy_state_dict(torch_model))
    variables = check_against_module(module, flat, x_nhwc.shape[1:])
    expected = torch_logits(torch_model, x_nhwc if torch_input is None else torch_input(x_nhwc))
    got = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x_nhwc))
    assert got.dtype == np.float32 and got.shape == expected.shape
    # The comparison means something only if the logits are not all tiny.
    assert np.abs(expected).max() > 0.1, np.abs(expected).max()
    np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol)
    return got


def imagenet_normalized(x_nhwc: np.ndarray) -> np.ndarray:
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    return ((x_nhwc - mean) / std).astype(np.float32)
