"""RegNetX / RegNetY (torchvision 0.28.0 ``torchvision/models/regnet.py``)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch
from torch import nn

from alignjax.models.regnet import REGNETS
from tests.models.helpers import torchvision_models
from tests.models.reference_builders import from_torchvision


@contextlib.contextmanager
def _block_params_on_cpu() -> Iterator[None]:
    """``BlockParams.from_init_params`` computes the stage widths with tensors and reads them back
    (``.tolist()``), which the meta device that ``build_uninitialised`` and the parameter counts build
    under cannot do; inside this context it runs on the CPU, and the modules are built where they were."""
    block_params = torchvision_models().regnet.BlockParams
    original = block_params.__dict__["from_init_params"]

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original.__func__(cls, *args, **kwargs)

    block_params.from_init_params = classmethod(on_cpu)
    try:
        yield
    finally:
        block_params.from_init_params = original


def _torchvision_regnet(arch: str) -> nn.Module:
    with _block_params_on_cpu():
        return getattr(torchvision_models(), arch)()


UPSTREAM = {
    arch: dataclasses.replace(
        from_torchvision(arch, slow=arch != "regnet_y_400mf"),
        build=lambda arch=arch: _torchvision_regnet(arch),
    )
    for arch in REGNETS
}

# four stages of widths 8, 16, 24, 40 (depths 1, 1, 2, 1; 1, 2, 3, 5 groups), stem 8: one small program
# for the RegNetX and one for the RegNetY variants (squeeze-and-excitation)
_SMALL = {"depth": 5, "w_0": 8, "w_a": 8.0, "w_m": 1.5, "group_width": 8, "stem_width": 8}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"regnet_y_400mf"}

# one RegNetX and one RegNetY run the (shared) small programs by default
ATTACK_SLOW = frozenset(UPSTREAM) - {"regnet_x_400mf", "regnet_y_400mf"}
