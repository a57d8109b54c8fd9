"""Logits functions of equal Flax modules are one cache key: a second load of a model compiles nothing."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from jax._src import monitoring

from alignjax.attacks import APGDConfig, run_autoattack
from alignjax.cli import main
from alignjax.models import build_architecture, load_embedded
from alignjax.models.module_logits import ModuleLogits, logits_fn_for, module_of
from alignjax.models.precision import with_compute_dtype
from alignjax.models.small_cnn import SmallCNN
from alignjax.models.stochastic import StochasticLogitsFn
from tests.models.random_variables import random_variables


@pytest.fixture
def backend_compiles():
    """A counter of XLA backend compilations while the test runs."""
    count = {"n": 0}

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            count["n"] += 1

    monitoring.register_event_duration_secs_listener(listener)
    yield count
    monitoring.unregister_event_duration_listener(listener)


def test_equal_modules_give_equal_functions_and_different_ones_do_not():
    a, b = load_embedded()[0], load_embedded()[0]
    assert a is not b and a == b and hash(a) == hash(b)
    assert logits_fn_for(SmallCNN(widths=(8, 16))) != a  # another width: another program
    resnet = logits_fn_for(build_architecture("resnet18", num_classes=10))
    assert resnet.eval_mode  # torchvision's ResNet takes train: called with train=False
    assert resnet == logits_fn_for(build_architecture("resnet18", num_classes=10))
    assert resnet != logits_fn_for(build_architecture("resnet18", num_classes=11))
    assert ModuleLogits(SmallCNN(), eval_mode=False) != ModuleLogits(SmallCNN(), eval_mode=True)


def test_stochastic_functions_of_equal_modules_are_equal():
    vone = build_architecture("voneresnet50", num_classes=10, noise_mode="neuronal")
    same = StochasticLogitsFn(build_architecture("voneresnet50", num_classes=10, noise_mode="neuronal"))
    assert StochasticLogitsFn(vone) == same and hash(StochasticLogitsFn(vone)) == hash(same)
    assert StochasticLogitsFn(vone) != StochasticLogitsFn(vone, rng_name="other")
    assert StochasticLogitsFn(vone) != StochasticLogitsFn(build_architecture("voneresnet50", num_classes=11))


def test_calls_the_module_as_its_apply_does():
    module = build_architecture("resnet18", num_classes=10, width=8, stage_sizes=(1, 1, 1, 1))
    variables = random_variables(module, (32, 32, 3), seed=0)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(logits_fn_for(module)(variables, x)),
                                  np.asarray(module.apply(variables, x, train=False)))


def test_module_of_every_form():
    module = SmallCNN()
    assert module_of(logits_fn_for(module)) is module
    assert module_of(module.apply) is module
    assert module_of(functools.partial(module.apply, train=False)) is module
    assert module_of(lambda params, x: x) is None
    bf16 = with_compute_dtype(logits_fn_for(module), "bf16")  # rebuilt around a bfloat16 clone
    assert module_of(bf16.logits_fn).dtype == jax.numpy.bfloat16


def test_an_unhashable_module_falls_back_to_identity():
    class Holder:  # stands for a module with an array field (arrays do not hash)
        __hash__ = None

    holder = Holder()
    a, b = ModuleLogits(holder), ModuleLogits(Holder())
    assert a == ModuleLogits(holder) and hash(a) == hash(ModuleLogits(holder))  # the same module object
    assert a != b


def test_a_reloaded_model_reuses_every_compiled_program(backend_compiles):
    x, y = (np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype(np.float32), np.arange(8) % 10)
    attacks = (APGDConfig("Linf", 0.3, n_iter=2, n_restarts=1),)

    def run():
        logits_fn, variables = load_embedded()  # a new object each time, as each `alignjax attack` loads it
        return run_autoattack(logits_fn, variables, x, y, attacks=attacks, key=jax.random.key(0), batch_size=8,
                              run_checks=False)

    first = run()
    compiled = backend_compiles["n"]
    second = run()
    assert compiled > 0 and backend_compiles["n"] == compiled, "the reloaded model compiled again"
    np.testing.assert_array_equal(first.x_adv, second.x_adv)


def test_a_second_cli_run_in_one_process_compiles_nothing_new(tmp_path, backend_compiles):
    argv = ["attack", "--version", "custom", "--attacks", "apgd-ce(n_iter=2),square(n_queries=5)", "--n", "8",
            "--batch-size", "8", "--no-progress", "--no-checks"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    compiled = backend_compiles["n"]
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert backend_compiles["n"] == compiled
