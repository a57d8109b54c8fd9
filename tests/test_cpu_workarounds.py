"""``ALIGNJAX_CPU_WORKAROUNDS=0`` turns the three CPU-only forms off together (``alignjax.cpu_workarounds``):
the lowered CPU programs then hold XLA's own convolution, sort and ``select_and_scatter`` (absent with the
workarounds on), and compute the same values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax import cpu_workarounds
from alignjax.attacks import sorting
from alignjax.models.fast_conv import fast_conv_general_dilated
from alignjax.models.max_pool import max_pool

CONV_KWARGS = {"window_strides": (1, 1), "padding": "SAME", "dimension_numbers": ("NHWC", "HWIO", "NHWC")}


def _programs():
    """(function, arguments, the op XLA uses without the workaround) for each of the three."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4, 8, 8, 1)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 1, 8)), jnp.float32)
    rows = jnp.asarray(rng.normal(size=(6, 24)), jnp.float32)
    pooled = jnp.asarray(rng.normal(size=(2, 8, 8, 3)), jnp.float32)
    return [
        (lambda a: jax.grad(lambda z: jnp.sum(fast_conv_general_dilated(z, k, **CONV_KWARGS) ** 2))(a), (x,),
         "stablehlo.convolution"),
        (lambda a: sorting.argsort(a), (rows,), "stablehlo.sort"),
        (lambda a: jax.grad(lambda z: jnp.sum(max_pool(z, (2, 2)) ** 2))(a), (pooled,), "stablehlo.select_and_scatter"),
    ]


@pytest.mark.parametrize("index", range(3), ids=["fast_conv", "sorting", "max_pool"])
def test_one_switch_turns_each_workaround_off_with_the_same_values(index, monkeypatch):
    fn, args, xla_op = _programs()[index]
    monkeypatch.setenv(cpu_workarounds.ENVIRONMENT_VARIABLE, "1")
    assert cpu_workarounds.enabled()
    on_text = jax.jit(fn).lower(*args).as_text()
    on = np.asarray(jax.jit(fn)(*args))
    monkeypatch.setenv(cpu_workarounds.ENVIRONMENT_VARIABLE, "0")
    assert not cpu_workarounds.enabled()
    off_fn = lambda *a: fn(*a)  # a new function: jit traces it again under the new setting
    off_text = jax.jit(off_fn).lower(*args).as_text()
    off = np.asarray(jax.jit(off_fn)(*args))
    assert xla_op not in on_text and xla_op in off_text
    np.testing.assert_allclose(off, on, rtol=1e-5, atol=1e-5 * float(np.abs(on).max()))
