"""CIFAR ResNet-18 (auto-attack's examples, with its real checkpoint) and RobustBench's PreActResNet-18
variants beyond the full-size upstream comparison (``test_upstream.py``): every RobustBench
constructor combination, normalisation, strict checks, input sizes, bfloat16."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models import build_architecture
from alignjax.weights.convert import convert_state_dict
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import CheckpointMismatchError, check_against_module
from tests.models.helpers import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    compare_with_upstream,
    flax_logits,
    normalized,
    numpy_state_dict,
    randomize,
    robustbench_architecture,
    torch_logits,
)

autoattack_resnet = pytest.importorskip("pyautoattack.examples.resnet")


def cifar_images(batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(batch, 32, 32, 3)).astype(np.float32)


def robustbench_preact(block: str, num_blocks=(2, 2, 2, 2), seed: int = 0, **kwargs) -> torch.nn.Module:
    """RobustBench's ``PreActResNet(<block>, num_blocks, **kwargs)``, randomised."""
    resnet = robustbench_architecture("resnet")
    model = resnet.PreActResNet(getattr(resnet, block), list(num_blocks), **kwargs)
    return randomize(model, cifar_images(seed=seed), seed=seed)


def test_autoattack_example_checkpoint_converts_exactly():
    """``model_test.pt`` shipped with auto-attack's examples: the real ResNet-18 checkpoint."""
    path = Path(autoattack_resnet.__file__).with_name("model_test.pt")
    assert path.is_file(), f"{path} missing: the pyautoattack wheel of the test extra ships it"
    torch_model = autoattack_resnet.ResNet18()
    torch_model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    logits = compare_with_upstream("cifar_resnet18", torch_model, cifar_images())
    assert logits.shape == (2, 10)


# (RobustBench constructor: block, kwargs) -> (registered architecture, builder kwargs); RobustBench
# entries using each: Wong2020Fast; Rice2020Overfitting (CIFAR-100); Rice2020OverfittingNetL2,
# Kireev2021Effectiveness, Addepalli2021Towards_PARN18; the last two are unused combinations.
PREACT_VARIANTS = {
    "PreActBlock": ("PreActBlock", {}, "preact_resnet18", {}),
    "PreActBlock-out_shortcut-bn_before_fc-100": (
        "PreActBlock",
        {"out_shortcut": True, "bn_before_fc": True, "num_classes": 100},
        "preact_resnet18_v2_bn",
        {"num_classes": 100},
    ),
    "PreActBlockV2-bn_before_fc": ("PreActBlockV2", {"bn_before_fc": True}, "preact_resnet18_v2_bn", {}),
    "PreActBlock-bn_before_fc": (
        "PreActBlock",
        {"bn_before_fc": True},
        "preact_resnet18",
        {"bn_before_fc": True},
    ),
    "PreActBlockV2": ("PreActBlockV2", {}, "preact_resnet18", {"activated_shortcut": True}),
}


@pytest.mark.parametrize("variant", sorted(PREACT_VARIANTS))
def test_preact_variant_matches_robustbench(variant):
    """One block per stage (the full-size defaults are in ``test_upstream.py``): the projection shortcut of
    ``layer2.0`` and the final BatchNorm are where the variants differ."""
    block, torch_kwargs, arch, flax_kwargs = PREACT_VARIANTS[variant]
    model = robustbench_preact(block, (1, 1, 1, 1), **torch_kwargs)
    compare_with_upstream(arch, model, cifar_images(), stage_sizes=(1, 1, 1, 1), **flax_kwargs)


def test_preact_variants_are_not_interchangeable():
    """Wong2020Fast's layout has no final ``bn``; the strict check says so instead of guessing."""
    plain = numpy_state_dict(robustbench_preact("PreActBlock"))
    with pytest.raises(CheckpointMismatchError, match="missing \\(4\\): batch_stats/bn/mean"):
        convert_state_dict(plain, "preact_resnet18_v2_bn", input_shape=(32, 32, 3))
    with_bn = numpy_state_dict(robustbench_preact("PreActBlockV2", bn_before_fc=True))
    with pytest.raises(CheckpointMismatchError, match="unexpected \\(4\\): batch_stats/bn/mean"):
        convert_state_dict(with_bn, "preact_resnet18", input_shape=(32, 32, 3))


def test_optional_normalisation_matches_normalising_the_input():
    """``mean``/``std`` (e.g. RobustBench's Wong2020Fast) equal normalising before the torch model."""
    model = robustbench_preact("PreActBlock", (1, 1, 1, 1), seed=2)
    torch_input = functools.partial(normalized, mean=CIFAR10_MEAN, std=CIFAR10_STD)
    compare_with_upstream(
        "preact_resnet18",
        model,
        cifar_images(),
        torch_input=torch_input,
        stage_sizes=(1, 1, 1, 1),
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
    )


def test_strict_check_names_missing_unexpected_and_misshaped():
    state_dict = numpy_state_dict(robustbench_preact("PreActBlock", (1, 1, 1, 1)))
    del state_dict["layer3.0.shortcut.0.weight"]
    state_dict["layer2.0.shortcut.1.weight"] = np.ones((128,), np.float32)  # a BN PreAct blocks lack
    state_dict["linear.weight"] = np.zeros((10, 256), np.float32)
    module = build_architecture("preact_resnet18", stage_sizes=(1, 1, 1, 1))
    with pytest.raises(CheckpointMismatchError) as info:
        check_against_module(module, get_converter("preact_resnet18")(state_dict), (32, 32, 3))
    message = str(info.value)
    for name in (
        "params/layer3_0/shortcut_0/kernel",
        "params/layer2_0/shortcut_1/scale",
        "params/linear/kernel",
    ):
        assert name in message


def test_non_32x32_inputs_are_rejected_by_the_strict_check():
    """The 4x4 average pool must leave 1x1 features; other sizes change ``linear``'s input width."""
    module = build_architecture("cifar_resnet18")
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, 32, 32, 3))
    )
    assert out.shape == (2, 10)
    state_dict = numpy_state_dict(autoattack_resnet.ResNet18())
    with pytest.raises(CheckpointMismatchError, match="params/linear/kernel"):
        check_against_module(module, get_converter("cifar_resnet18")(state_dict), (64, 64, 3))


def test_bfloat16_forward_close_to_float32():
    torch_model = autoattack_resnet.ResNet(autoattack_resnet.BasicBlock, [1, 1, 1, 1])
    x = cifar_images()
    randomize(torch_model, x, seed=3)
    module = build_architecture("cifar_resnet18", stage_sizes=(1, 1, 1, 1), dtype=jnp.bfloat16)
    variables = check_against_module(
        module, get_converter("cifar_resnet18")(numpy_state_dict(torch_model)), x.shape[1:]
    )
    reference = torch_logits(torch_model, x)
    low = flax_logits(module, variables, x)
    assert low.dtype == np.float32
    assert np.linalg.norm(low - reference) <= 0.05 * np.linalg.norm(reference)
