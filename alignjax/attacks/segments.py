"""Passes that the cascade can re-pack *while they run*: a pass split into segments of iterations.

The reference's Square (``fra31/auto-attack@a392200:autoattack/square.py``, ``attack_single_run``)
indexes the still-unbroken points (``idx_to_fool``) at every iteration, so its cost falls as points
break inside a restart. Inside ``jit`` shapes are static: a pass runs its whole batch, finished rows
masked. An attack that registers this protocol lets the host loop (``passes.attack_group``) run one
pass as ``segment_count`` segments of iterations and re-pack the rows still being attacked between
segments into a smaller batch (``passes.bucket_size``), carrying each row's state with it.

The protocol (dispatch on the config type, like ``base.run_pass``):

* ``segment_count(cfg)``: how many segments a pass has;
* ``start_segments(cfg, logits_fn, params, x, y, robust, pass_index, key=, point_ids=)`` -> carry:
  a pytree whose every leaf has the batch as its leading axis (so rows can be gathered on the host);
* ``run_segment(cfg, logits_fn, params, x, y, robust, pass_index, carry, segment, key=, point_ids=)``
  -> carry: the segment's iterations;
* ``segment_survivors(cfg, carry, robust)`` -> (b,) rows the next segment still attacks;
* ``end_segments(cfg, logits_fn, params, x, y, robust, carry)`` -> ``PassResult``.

A row's result must depend only on its own carry, its key (``point_ids``) and the segment index, not
on which rows share its batch; then re-packing changes nothing (tests/attacks/test_passes.py).
"""

from __future__ import annotations

import functools
from typing import Any

from jaxtyping import Array, Int

from alignjax.attacks.base import PassResult
from alignjax.types import Images, Key, Labels, LogitsFn, Mask, Params, PointIds

Carry = Any  # a pytree of (b, ...) arrays


def _not_segmented(cfg: object) -> TypeError:
    return TypeError(f"{type(cfg).__name__} has no segmented passes")


@functools.singledispatch
def segment_count(cfg: object) -> int:
    """How many segments each pass of ``cfg`` runs (1: not worth splitting)."""
    raise _not_segmented(cfg)


@functools.singledispatch
def start_segments(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, robust: Mask,
                   pass_index: Int[Array, ""], *, key: Key, point_ids: PointIds) -> Carry:
    """The carry before the first segment of pass ``pass_index`` on the rows ``robust``."""
    raise _not_segmented(cfg)


@functools.singledispatch
def run_segment(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, robust: Mask,
                pass_index: Int[Array, ""], carry: Carry, segment: Int[Array, ""], *, key: Key,
                point_ids: PointIds) -> Carry:
    """Runs segment ``segment`` of the pass on the rows ``robust``; returns the new carry."""
    raise _not_segmented(cfg)


@functools.singledispatch
def segment_survivors(cfg: object, carry: Carry, robust: Mask) -> Mask:
    """(b,) rows the following segments still attack."""
    raise _not_segmented(cfg)


@functools.singledispatch
def end_segments(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, robust: Mask,
                 carry: Carry) -> PassResult:
    """The pass's result from its final carry."""
    raise _not_segmented(cfg)


def has_segments(cfg: object) -> bool:
    """Whether ``cfg``'s type registered segmented passes and its passes have more than one segment."""
    registered = segment_count.dispatch(type(cfg)) is not segment_count.dispatch(object)
    return registered and segment_count(cfg) > 1
