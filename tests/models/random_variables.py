"""Random variables for any Flax module without running (or compiling) its ``init``.

``jax.eval_shape(module.init, ...)`` gives every variable's shape for the cost of a trace; the values
are then drawn with NumPy: convolution and dense kernels uniform with variance 2 / fan_in (fan_in = every
axis but the last; He et al. 2015's scale for ReLU nets: with LeCun's 1 / fan_in the signal halves at
every ReLU and a 16-layer VGG's logits are set by its biases alone, so no attack can move them), scales and BatchNorm
variances uniform in [0.5, 1.5], everything else (biases, running means, tokens, position embeddings,
layer scales) normal with standard deviation 0.1. Randomised BatchNorm statistics make the test harder
than Flax's identity statistics would. Same seed, same variables.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def random_variables(module: Any, input_shape: tuple[int, ...], seed: int = 0) -> dict[str, Any]:
    """Variables of ``module`` for (1, *input_shape) float32 inputs, as host NumPy arrays."""
    shapes = jax.eval_shape(
        module.init, jax.random.key(0), jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    )
    rng = np.random.default_rng(seed)

    def draw(path: tuple[Any, ...], leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        name = str(getattr(path[-1], "key", path[-1]))
        shape = leaf.shape
        if name in ("scale", "var"):
            return rng.uniform(0.5, 1.5, shape).astype(np.float32)
        if name == "kernel" and len(shape) >= 2:
            # uniform with variance 2 / fan_in: as cheap to draw as it gets for 10^8 weights
            bound = np.float32(np.sqrt(6.0 / np.prod(shape[:-1])))
            values = rng.random(shape, dtype=np.float32)
            values *= 2 * bound
            values -= bound
            return values
        values = rng.standard_normal(shape, dtype=np.float32)
        values *= np.float32(0.1)
        return values

    return jax.tree_util.tree_map_with_path(draw, shapes)
