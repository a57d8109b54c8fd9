"""The one interface every attack implements, and what attacks share (per-point keys, model keys).

An attack config (``APGDConfig``, ``FABConfig``, ``SquareConfig``) is a frozen dataclass that is also an
``Attack``: the engine (``alignjax.attacks.engine``) drives it through a few methods, in the spirit of
diffrax's ``AbstractSolver`` and optax's ``GradientTransformation`` (an object with a small documented
set of pure functions; no registration, no dispatch tables):

* ``n_passes``: how many passes the attack runs on a batch (restarts x target classes), in order, each on
  the points no earlier pass broke, as the reference's ``perturb`` runs each restart on
  ``acc.nonzero()`` (``fra31/auto-attack@a392200:autoattack/autopgd_base.py``, ``fab_base.py``,
  ``square.py``);
* ``attackable(model, params, x, y, active, key=)``: the rows the attack works on (clean-correct);
* one pass in segments: ``init`` -> ``run`` for each of ``n_segments`` segments -> ``finish``, with
  ``survivors(carry, robust)`` the rows the next segment still attacks. Between segments the engine may
  re-pack the surviving rows into a smaller batch (Square's reference indexes its unbroken points at
  every iteration), so a row's carry must depend only on its own inputs, never on other rows.

Most attacks have one segment per pass: they implement ``run_pass`` and inherit the segment methods,
which wrap it. Capabilities are declared attributes: ``needs_deterministic_model`` (FAB),
``counts_queries`` (Square). Every method is traceable; the engine jits each with the attack static.

Randomness never depends on batch composition: a point's key is ``fold_in(attack_key, point_id)``
(``per_point_keys``), with ``point_id`` its index in the whole evaluated set. A stochastic model's
forward passes take ``model_key(model, key, *tags)``, one key per forward pass for the whole batch.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from alignjax.types import Images, Key, Labels, Mask, Model, Params, PointIds

Carry = Any  # a pytree whose every leaf has the batch as its leading axis
MODEL_STREAM = 0x4D4F44  # fold_in tag of stochastic models' keys, apart from the point ids
CLEAN_TAG = 0  # model-key tags: the attackable test's forward pass ...


class PassResult(NamedTuple):
    """What one pass (one restart, or one target class of one restart) returns for one batch.

    Attributes:
      x_found: (b, h, w, c) the pass's candidate adversarial points (anything on rows not broken).
      broken: (b,) rows of the pass's ``robust`` input that the pass broke, by the attack's own test.
      n_queries: (b,) forward passes the pass spent per point (query-counted attacks), else zeros.
    """

    x_found: Images
    broken: Bool[Array, " b"]
    n_queries: Int[Array, " b"]


class Attack(abc.ABC):
    """An attack, as the engine drives it (see the module docstring). Subclasses are frozen dataclasses
    with at least the fields or properties ``name``, ``norm`` and ``eps``."""

    needs_deterministic_model: ClassVar[bool] = False
    counts_queries: ClassVar[bool] = False

    norm: str
    eps: float

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The attack's name in logs and results ('apgd-ce', 'fab-t', 'square', ...)."""

    @property
    @abc.abstractmethod
    def n_passes(self) -> int:
        """Passes on a batch, run in order on the rows still robust."""

    @property
    def n_segments(self) -> int:
        """Segments of one pass (1: the engine never re-packs inside a pass)."""
        return 1

    def check_model(self, model: Model) -> None:
        """Refuses a model the attack cannot run on (``needs_deterministic_model``)."""
        if self.needs_deterministic_model and model.stochastic:
            raise ValueError(
                f"{self.name.upper()} needs a deterministic model; stochastic models are attacked with APGD "
                "(AutoAttack's 'rand' version runs APGD-CE and APGD-DLR only)"
            )

    def attackable(self, model: Model, params: Params, x: Images, y: Labels, active: Mask, *, key: Key) -> Mask:
        """(b,) rows the attack works on: ``active`` and correctly classified on the clean ``x``."""
        logits = model(params, x.astype(jnp.float32), key=model_key(model, key, CLEAN_TAG))
        check_target_count(self, logits.shape[-1])
        return active & (jnp.argmax(logits, axis=-1) == y.astype(jnp.int32))

    def run_pass(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask,
                 pass_index: Int[Array, ""], *, key: Key, point_ids: PointIds) -> PassResult:
        """Pass ``pass_index`` on the rows ``robust`` (one-segment attacks implement this)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither run_pass nor init/run/finish")

    def init(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask,
             pass_index: Int[Array, ""], *, key: Key, point_ids: PointIds) -> Carry:
        """The carry before the pass's first segment."""
        zeros = jnp.zeros(x.shape[:1], jnp.int32)
        return PassResult(x.astype(jnp.float32), zeros.astype(bool), zeros)

    def run(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Int[Array, ""],
            carry: Carry, segment: Int[Array, ""], *, key: Key, point_ids: PointIds) -> Carry:
        """Segment ``segment`` of the pass on the rows ``robust``; returns the new carry."""
        return self.run_pass(model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)

    def survivors(self, carry: Carry, robust: Mask) -> Mask:
        """(b,) rows the following segments still attack."""
        return robust & ~carry.broken

    def finish(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Int[Array, ""],
               carry: Carry, *, key: Key) -> PassResult:
        """The pass's result from its last carry."""
        return carry


def check_target_count(attack: object, n_classes: int) -> None:
    """Targeted attacks rank targets 2 ... n_target_classes + 1: refuse more than the model has."""
    wanted = getattr(attack, "n_target_classes", 0)
    if getattr(attack, "targeted", False) and wanted + 1 > n_classes:
        raise ValueError(
            f"{attack.name.upper()} with n_target_classes={wanted} needs at least {wanted + 1} classes; "  # type: ignore[attr-defined]
            f"the model has {n_classes}"
        )


def per_point_keys(key: Key, point_ids: PointIds) -> Key:
    """(b,) keys, one per point, independent of how points are batched."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(point_ids.astype(jnp.uint32))


def model_key(model: Model, key: Key, *tags: int | Array) -> Key | None:
    """A stochastic model's key for one forward pass, a function of the attack key and ``tags``; None for a
    deterministic model (which takes no key)."""
    if not model.stochastic:
        return None
    k = jax.random.fold_in(key, MODEL_STREAM)
    for tag in tags:
        k = jax.random.fold_in(k, tag)
    return k


def predict(model: Model, params: Params, x: Images, *, key: Key | None = None) -> Labels:
    """argmax of the logits (first maximal index, as torch.max)."""
    return jnp.argmax(model(params, x, key=key), axis=-1)


def keep_where(mask: Mask, new: Images, old: Images) -> Images:
    """Per-example select: rows of ``new`` where ``mask`` else rows of ``old``."""
    return jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
