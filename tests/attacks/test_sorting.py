"""``alignjax.attacks.sorting``: the CPU sorting network gives NumPy's stable order exactly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.attacks import sorting

LENGTHS = [1, 2, 3, 5, 10, 16, 17, 64, 100, 300]


def awkward_rows(n: int, seed: int = 0) -> np.ndarray:
    """Rows full of ties, zeros of both signs, infinities and NaNs, plus one plain random row."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(-3, 4, size=(6, n)).astype(np.float32)
    rows[0, ::3] = np.nan
    rows[1, ::2] = -0.0
    rows[2, 1::4] = np.inf
    rows[3, ::5] = -np.inf
    rows[4, ::2] = -rows[4, ::2]
    rows[5] = rng.standard_normal(n).astype(np.float32)
    return rows


def same_bits(a, b) -> bool:
    return np.array_equal(np.asarray(a).view(np.int32), np.asarray(b).view(np.int32))


@pytest.mark.parametrize("n", LENGTHS)
def test_argsort_is_numpys_stable_order(n):
    rows = awkward_rows(n)
    expected = np.argsort(rows, axis=-1, kind="stable")
    np.testing.assert_array_equal(np.asarray(jax.jit(sorting.argsort)(jnp.asarray(rows))), expected)
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(sorting.argsort))(jnp.asarray(rows))), expected)


@pytest.mark.parametrize("n", LENGTHS)
def test_sort_returns_the_values_themselves_in_order(n):
    rows = awkward_rows(n, seed=1)
    expected = np.take_along_axis(rows, np.argsort(rows, axis=-1, kind="stable"), axis=-1)
    assert same_bits(jax.jit(sorting.sort)(jnp.asarray(rows)), expected)  # -0.0 and NaN bits kept
    assert same_bits(jax.jit(jax.vmap(sorting.sort))(jnp.asarray(rows)), jnp.sort(jnp.asarray(rows), axis=-1))


def test_integer_keys_give_the_inverse_permutation():
    order = np.random.default_rng(2).permutation(200).astype(np.int32)
    np.testing.assert_array_equal(np.asarray(jax.jit(sorting.argsort)(jnp.asarray(order))), np.argsort(order))


def test_leading_axes_and_bfloat16():
    rows = np.random.default_rng(3).standard_normal((2, 3, 37)).astype(np.float32)
    got = jax.jit(sorting.argsort)(jnp.asarray(rows, jnp.bfloat16))
    np.testing.assert_array_equal(
        np.asarray(got),
        np.argsort(np.asarray(jnp.asarray(rows, jnp.bfloat16), np.float32), axis=-1, kind="stable"),
    )


def hlo_has_sort(n: int) -> bool:
    text = jax.jit(sorting.argsort).lower(jnp.zeros((8, n), jnp.float32)).compile().as_text()
    return " sort(" in text


def test_cpu_programs_use_the_network_only_for_short_rows():
    assert jax.default_backend() == "cpu"
    assert not hlo_has_sort(sorting.NETWORK_MAX_LENGTH)
    assert hlo_has_sort(sorting.NETWORK_MAX_LENGTH + 1)


@pytest.mark.parametrize("platform", ["cuda", "rocm", "tpu"])
def test_accelerator_programs_keep_the_library_sort(platform):
    """The network is CPU-only: lowered for a GPU/TPU (no device needed), sort and argsort are XLA's sort."""
    rows = jnp.zeros((8, sorting.NETWORK_MAX_LENGTH), jnp.float32)
    for fn in (sorting.sort, sorting.argsort):
        text = jax.export.export(jax.jit(fn), platforms=[platform])(rows).mlir_module()
        assert text.count("stablehlo.sort") == 1
        assert "stablehlo.concatenate" not in text  # the network's doubled rows (partners by shifted slices)


def test_float64_keeps_its_precision():
    """float64 values equal in float32 must still sort by their float64 values (library sort)."""
    with jax.enable_x64(True):
        values = jnp.asarray([1.0 + 3e-12, 1.0 + 1e-12, 1.0 + 2e-12, 1.0], jnp.float64)
        np.testing.assert_array_equal(np.asarray(sorting.argsort(values)), [3, 1, 2, 0])
        np.testing.assert_array_equal(np.asarray(sorting.sort(values)), np.sort(np.asarray(values)))
