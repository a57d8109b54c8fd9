"""One attack on one batch through the engine, for tests that compare an attack with the reference.

``whole_attack(cfg, logits_fn)`` returns ``fn(params, x, y, active, key, point_ids) -> WholeResult``: every
pass of ``cfg`` on the batch (``engine.passes.attack_batch``: survivor compaction, segments,
re-verification), on one device, as the reference's ``perturb`` attacks one batch.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.attacks.engine.batching import Placement
from alignjax.attacks.engine.passes import attack_batch, programs
from alignjax.attacks.protocol import keep_where
from alignjax.types import Model


class WholeResult(NamedTuple):
    """x_adv: the attack's point where it broke a row, else x; is_adv: active and (misclassified when
    clean, or broken: re-verified); n_queries: forward passes of query-counted attacks."""

    x_adv: np.ndarray
    is_adv: np.ndarray
    n_queries: np.ndarray


def whole_attack(cfg, logits_fn, *, draws: int = 1):
    model = Model.of(logits_fn)

    def run(params, x, y, active, key, point_ids) -> WholeResult:
        progs = programs(cfg, model, False, draws)
        placement = Placement(jax.local_devices()[:1])
        active = np.asarray(active, bool)
        with jax.transfer_guard("allow"):
            params, key = placement.replicate((params, key))
            out = attack_batch(progs, params, np.asarray(x, np.float32), np.asarray(y, np.int32),
                               np.asarray(point_ids, np.int64), active[None], key, placement)
        is_adv = active & (~out.attacked[0] | out.broken[0])
        return WholeResult(out.x_adv[0], is_adv, out.n_queries[0])

    return run


def masked_attack(cfg, logits_fn):
    """The attack as one jitted program on the whole batch, masking finished rows instead of re-packing
    them (no compaction, every segment on the whole batch): what the engine's compaction must equal.
    Built from the ``Attack`` methods alone."""
    model = Model.of(logits_fn)

    def run(params, x, y, active, key, point_ids) -> WholeResult:
        x = x.astype(jnp.float32)
        robust = cfg.attackable(model, params, x, y, active, key=key)
        x_adv, queries = x, jnp.zeros(x.shape[:1], jnp.int32)
        for index in range(cfg.n_passes):
            pass_index = jnp.int32(index)
            carry = cfg.init(model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)
            for segment in range(cfg.n_segments):
                carry = cfg.run(model, params, x, y, robust, pass_index, carry, jnp.int32(segment), key=key,
                                point_ids=point_ids)
            found = cfg.finish(model, params, x, y, robust, pass_index, carry, key=key)
            x_adv = keep_where(found.broken, found.x_found, x_adv)
            robust, queries = robust & ~found.broken, queries + found.n_queries
        return WholeResult(x_adv, active & ~robust, queries)

    return jax.jit(run)
