"""Square Attack (Linf, L2, L1): score-based random search with square windows.

Paper: M. Andriushchenko, F. Croce, N. Flammarion, M. Hein, "Square Attack: a query-efficient
black-box adversarial attack via random search", ECCV 2020 (arXiv:1912.00049).
Reference: ``fra31/auto-attack@a392200:autoattack/square.py`` (``SquareAttack``), with
``L1_projection`` from ``autoattack/autopgd_base.py`` for the L1 variant.

What is replicated, quirk by quirk: the margin loss ``z_y - max_{j != y} z_j`` that the attack
minimises; the p schedule (raw or rescaled to ``n_queries``); the side lengths (Linf ``>= 1``; L2/L1
``>= 3`` and odd; both capped at ``min(h, w)``); window corners ``floor(U * (h - s))`` (so ``h - s``
itself is never drawn); the Linf vertical-stripe start and the L2/L1 5x5-block start built from the
nested-rectangle pattern ``eta(s)`` (randomly transposed with probability 1/2); the per-norm updates;
strict improvement ``margin < loss_min`` and acceptance where improved OR ``margin <= 0``; points stop
when ``margin_min <= 0`` and the loop stops when none is left (so it returns right after the start when
every point starts broken); the L1 projection at radius
``eps * (1 - 1e-6)``; the final ``argmax != y`` check per restart; restarts from scratch on the points
still robust. ``n_queries`` counts, as the reference does, 1 forward pass for the start plus 1 per
iteration while the point is still being attacked: at most ``n_restarts * (cfg.n_queries + 1)``.

Randomness. Window corners, the Linf channel signs and the transposition of ``eta`` are shared by the
whole batch in the reference; here they are drawn from the attack key folded with the restart and the
iteration, so every batch sees the same draw at the same iteration (faithful, and independent of batch
size). Per-image draws (the Linf stripes, the L2/L1 per-channel signs) come from
``per_point_keys(key, point_ids)`` folded with the iteration.

Deliberate deviations:
  * RNG streams differ from torch's; results agree in distribution, not bit for bit.
  * ``window="per_example"`` (not the default) draws the window corners, the Linf signs and the
    transposition per image, as the original square-attack repository (max-andr/square-attack) does,
    minus its re-sampling of Linf signs that would not change the window.
  * Batches are masked instead of shrunk with ``nonzero()``; the per-iteration stop (the reference's
    ``break``) is tested every ``ITERATIONS_PER_STOP_TEST`` iterations (a ``lax.while_loop`` over
    chunks, so the GPU does not sync with the host every iteration); iterations after the stop change
    nothing. The cascade re-packs the rows not yet broken between restarts and, within a restart,
    every ``ITERATIONS_PER_SEGMENT`` iterations (``Attack.n_segments``, ``engine/passes.py``). Rows that are
    inactive, or misclassified before the attack, are not attacked and cost 0 queries.
  * A stochastic model (``Model.stochastic``) gets one key per forward pass, from the restart's key
    (``protocol.model_key``), shared by the batch.
  * L2/L1 start blocks that would stick out of the image are cropped (the reference raises for such
    image sizes, e.g. h = 12); images must be at least 5 pixels high for L2/L1.
  * Arithmetic is float32 whatever the input dtype; ``x_adv`` is cast back to the input dtype.
  * The reference's NaN asserts on ``x_new``/``x_best`` are not replicated (no host checks inside jit).

Checked against the live reference in tests/attacks/test_square.py: fed our draws, the reference's own
loop reproduces our iterates and query counts exactly (Linf, L1; L2 under ``-m slow``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from alignjax.attacks.losses import margin_loss
from alignjax.attacks.projections import l1_projection
from alignjax.attacks.protocol import Attack, PassResult, keep_where, model_key, per_point_keys
from alignjax.types import NORMS, Images, Key, Labels, Mask, Model, Params, PointIds

WINDOW_MODES = ("shared", "per_example")
# Iterations between two evaluations of the early-stop test (one host read-back each on GPU).
ITERATIONS_PER_STOP_TEST = 16
# Iterations of one segment of a restart: between segments the cascade re-packs the rows still being
# attacked (Attack.n_segments), as the reference indexes the unbroken points every iteration. A multiple
# of ITERATIONS_PER_STOP_TEST; 5000 queries make 20 segments.
ITERATIONS_PER_SEGMENT = 256
# Iteration thresholds of the p schedule: p = p_init / 2**k for the k-th interval (reference values).
_SCHEDULE_BOUNDS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


@dataclasses.dataclass(frozen=True)
class SquareConfig(Attack):
    """Square Attack settings (defaults: AutoAttack's ``standard`` Square).

    Attributes:
      norm: "Linf", "L2" or "L1".
      eps: radius of the threat model.
      n_queries: iterations per restart (each iteration is one forward pass).
      p_init: initial fraction of pixels covered by a window.
      n_restarts: restarts from scratch on the points still robust.
      resc_schedule: rescale the p schedule to ``n_queries`` (AA uses False; torchattacks True).
      window: "shared" (reference: one window/sign draw per iteration for the whole batch) or
        "per_example" (one per image; a deviation, see the module docstring).
    """

    norm: str
    eps: float
    n_queries: int = 5000
    p_init: float = 0.8
    n_restarts: int = 1
    resc_schedule: bool = False
    window: str = "shared"

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"SquareConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if not (isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"SquareConfig.eps must be a finite positive number, got {self.eps!r}")
        if not (isinstance(self.n_queries, int) and self.n_queries >= 1):
            raise ValueError(f"SquareConfig.n_queries must be an int >= 1, got {self.n_queries!r}")
        if not (isinstance(self.p_init, (int, float)) and 0 < self.p_init <= 1):
            raise ValueError(f"SquareConfig.p_init must be in (0, 1], got {self.p_init!r}")
        if not (isinstance(self.n_restarts, int) and self.n_restarts >= 1):
            raise ValueError(f"SquareConfig.n_restarts must be an int >= 1, got {self.n_restarts!r}")
        if not isinstance(self.resc_schedule, bool):
            raise ValueError(  # noqa: TRY004 - every SquareConfig field check raises ValueError (a bad setting)
                f"SquareConfig.resc_schedule must be a bool, got {self.resc_schedule!r}")
        if self.window not in WINDOW_MODES:
            raise ValueError(f"SquareConfig.window must be one of {WINDOW_MODES}, got {self.window!r}")

    counts_queries = True

    @property
    def name(self) -> str:
        return "square"

    @property
    def n_passes(self) -> int:
        """Restarts, each from scratch on the rows not yet broken."""
        return self.n_restarts

    @property
    def n_segments(self) -> int:
        """Segments of ``ITERATIONS_PER_SEGMENT`` iterations: the engine re-packs the rows still attacked."""
        return -(-self.n_queries // ITERATIONS_PER_SEGMENT)

    def init(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Array, *,
             key: Key, point_ids: PointIds) -> SquareCarry:
        """The start of restart ``pass_index`` (key ``fold_in(key, restart)``) on the rows ``robust``."""
        return _start_restart(self, model, params, x.astype(jnp.float32), y.astype(jnp.int32), robust,
                              jax.random.fold_in(key, pass_index), point_ids)

    def run(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Array,
            carry: SquareCarry, segment: Array, *, key: Key, point_ids: PointIds) -> SquareCarry:
        """Iterations ``segment * ITERATIONS_PER_SEGMENT`` up to the next segment (or ``n_queries``)."""
        first = segment * ITERATIONS_PER_SEGMENT
        last = jnp.minimum(first + ITERATIONS_PER_SEGMENT, self.n_queries)
        return _iterate(self, model, params, x.astype(jnp.float32), y.astype(jnp.int32), robust,
                        jax.random.fold_in(key, pass_index), point_ids, carry, first, last)

    def survivors(self, carry: SquareCarry, robust: Mask) -> Mask:
        """Rows not yet misclassified (margin > 0)."""
        return robust & (carry.margin_min > 0.0)

    def finish(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Array,
               carry: SquareCarry, *, key: Key) -> PassResult:
        """Broken where ``argmax(logits(x_best)) != y`` (one forward pass, not counted in n_queries)."""
        logits = model(params, carry.x_best, key=model_key(model, jax.random.fold_in(key, pass_index), 2))
        broken = robust & (jnp.argmax(logits, axis=-1) != y.astype(jnp.int32))
        return PassResult(x_found=carry.x_best, broken=broken, n_queries=carry.n_queries)


# ----------------------------------------------------------------------------------------------
# Host-side schedule and patterns (pure Python / NumPy, evaluated at trace time).


def p_selection(p_init: float, it: int, n_queries: int, resc_schedule: bool) -> float:
    """Fraction of pixels a window covers at 0-based iteration ``it`` (reference ``p_selection``)."""
    if resc_schedule:
        it = int(it / n_queries * 10000)
    halvings = sum(it > bound for bound in _SCHEDULE_BOUNDS)
    return p_init / 2**halvings


def side_length(p: float, h: int, w: int, norm: str, channels: int = 1) -> int:
    """Window side for fraction ``p`` on an h x w image (Linf >= 1; L2/L1 >= 3 and odd; <= min(h, w)).

    ``channels`` only reproduces the reference's float expression ``p * (c*h*w) / c`` exactly.
    """
    side = round(math.sqrt(p * (channels * h * w) / channels))
    if norm == "Linf":
        side = max(side, 1)
    else:
        side = max(side, 3)
        side += 1 - side % 2
    return min(side, min(h, w))


def _nested_rectangles(rows: int, cols: int, power: int, norm: str) -> np.ndarray:
    """Sum of rectangles centred at (rows//2, cols//2), the r-th of half-size r weighted 1/(r+1)^power."""
    out = np.zeros((rows, cols))
    centre_r, centre_c = rows // 2, cols // 2
    for r in range(max(rows // 2, cols // 2) + 1):
        weight = 1.0 / (r + 1) ** power
        out[max(centre_r - r, 0) : centre_r + r + 1, max(centre_c - r, 0) : centre_c + r + 1] += weight
    return out / _pattern_norm(out, norm) if out.size else out


def _pattern_norm(a: np.ndarray, norm: str) -> float:
    return float(np.sqrt(np.sum(a**2))) if norm == "L2" else float(np.sum(np.abs(a)))


def eta_pattern(side: int, norm: str) -> np.ndarray:
    """(side, side) float32 pattern ``eta(s)`` of the L2/L1 attacks, before the random transposition.

    Upper half ``M(s//2, s)``, lower half ``-M(s - s//2, s)``, unit L2 norm (weights 1/(r+1)^2) or unit
    L1 norm (weights 1/(r+1)^4 for L1).
    """
    if norm not in ("L2", "L1"):
        raise ValueError(f"eta_pattern is defined for 'L2' and 'L1', got {norm!r}")
    power = 2 if norm == "L2" else 4
    half = side // 2
    pattern = np.concatenate(
        [_nested_rectangles(half, side, power, norm), -_nested_rectangles(side - half, side, power, norm)]
    )
    return (pattern / _pattern_norm(pattern, norm)).astype(np.float32)


class Schedule(NamedTuple):
    starts: np.ndarray  # (r,) first iteration of each run of constant side length
    sides: np.ndarray  # (r,) side length of each run
    canvases: np.ndarray  # (r, S, S) eta(side) in the top-left corner (L2/L1), zeros elsewhere


def window_schedule(cfg: SquareConfig, h: int, w: int, c: int) -> Schedule:
    """Runs of constant window side over iterations 0..n_queries-1 (host side, at trace time)."""
    sides = [
        side_length(p_selection(cfg.p_init, it, cfg.n_queries, cfg.resc_schedule), h, w, cfg.norm, c)
        for it in range(cfg.n_queries)
    ]
    starts = [it for it in range(cfg.n_queries) if it == 0 or sides[it] != sides[it - 1]]
    run_sides = [sides[it] for it in starts]
    size = max(run_sides) if cfg.norm != "Linf" else 1
    canvases = np.zeros((len(starts), size, size), np.float32)
    if cfg.norm != "Linf":
        for i, side in enumerate(run_sides):
            canvases[i, :side, :side] = eta_pattern(side, cfg.norm)
    return Schedule(np.asarray(starts, np.int32), np.asarray(run_sides, np.int32), canvases)


# ----------------------------------------------------------------------------------------------
# One proposal, with explicit draws (the injection point for tests).


class SquareDraws(NamedTuple):
    """The random choices of one iteration, one row per image (shared draws are broadcast).

    Attributes:
      corner: (b, 2) int top-left (row, col) of the window that gets the new pattern.
      corner2: (b, 2) int top-left of the second window, zeroed before the update (L2/L1 only).
      signs: (b, c) +-1; Linf: the window's channel signs; L2/L1: signs of ``eta`` per channel.
      transpose: (b,) bool; L2/L1: use ``eta(s)`` transposed.
    """

    corner: Int[Array, "b 2"]
    corner2: Int[Array, "b 2"]
    signs: Float[Array, "b c"]
    transpose: Bool[Array, " b"]


def _window_mask(corner: Int[Array, "b 2"], side, h: int, w: int) -> Bool[Array, "b h w 1"]:
    rows = jnp.arange(h)[None, :] - corner[:, :1]
    cols = jnp.arange(w)[None, :] - corner[:, 1:]
    in_rows = (rows >= 0) & (rows < side)
    in_cols = (cols >= 0) & (cols < side)
    return (in_rows[:, :, None] & in_cols[:, None, :])[..., None]


def _placed_pattern(
    canvas: Float[Array, "S S"], draws: SquareDraws, h: int, w: int
) -> Float[Array, "b h w 1"]:
    """``canvas`` (optionally transposed per image) moved so its top-left lies at ``draws.corner``."""
    size = canvas.shape[0]
    per_image = jnp.where(draws.transpose[:, None, None], canvas.T[None], canvas[None])
    rows = jnp.clip(jnp.arange(h)[None, :] - draws.corner[:, :1], 0, size - 1)
    cols = jnp.clip(jnp.arange(w)[None, :] - draws.corner[:, 1:], 0, size - 1)
    placed = jax.vmap(lambda a, r, q: a[r[:, None], q[None, :]])(per_image, rows, cols)
    return placed[..., None]


def _sum_hw(a: Array) -> Array:
    return jnp.sum(a, axis=(1, 2), keepdims=True)


def _propose(
    norm: str, eps: float, x: Images, x_best: Images, side, canvas: Array, draws: SquareDraws
) -> Images:
    h, w, c = x.shape[1:]
    mask = _window_mask(draws.corner, side, h, w)
    signs = draws.signs[:, None, None, :]
    if norm == "Linf":
        moved = x_best + jnp.where(mask, 2.0 * eps * signs, 0.0)
        return jnp.clip(jnp.clip(moved, x - eps, x + eps), 0.0, 1.0)

    delta = x_best - x
    mask2 = _window_mask(draws.corner2, side, h, w)
    union = mask | mask2
    pattern = jnp.where(mask, _placed_pattern(canvas, draws, h, w), 0.0)
    if norm == "L2":
        norm_window = jnp.sqrt(_sum_hw(jnp.where(mask, delta, 0.0) ** 2))  # (b, 1, 1, c)
        norm_image = jnp.sqrt(jnp.sum(delta**2, axis=(1, 2, 3), keepdims=True))
        norm_union = jnp.sqrt(_sum_hw(jnp.where(union, delta, 0.0) ** 2))
        new = pattern * signs + jnp.where(mask, delta, 0.0) / (1e-12 + norm_window)
        target = jnp.sqrt(jnp.maximum(eps**2 - norm_image**2, 0.0) / c + norm_union**2)
        new = new / (1e-12 + jnp.sqrt(_sum_hw(new**2))) * target
        delta = jnp.where(mask, new, jnp.where(mask2, 0.0, delta))
        norm_delta = jnp.sqrt(jnp.sum(delta**2, axis=(1, 2, 3), keepdims=True))
        return jnp.clip(x + delta / (norm_delta + 1e-12) * eps, 0.0, 1.0)

    norm_window = _sum_hw(jnp.abs(jnp.where(mask, delta, 0.0)))
    norm_image = jnp.sum(jnp.abs(delta), axis=(1, 2, 3), keepdims=True)
    norm_union = _sum_hw(jnp.abs(jnp.where(union, delta, 0.0)))
    new = pattern * signs + jnp.where(mask, delta, 0.0) / (1e-12 + norm_window)
    target = (jnp.maximum(eps - norm_image, 0.0) / c + norm_union) * c
    new = new / (1e-12 + _sum_hw(jnp.abs(new))) * target
    delta = jnp.where(mask, new, jnp.where(mask2, 0.0, delta))
    return x + delta + l1_projection(x, delta, eps * (1.0 - 1e-6))


def square_step(norm: str, eps: float, x: Images, x_best: Images, side: int, draws: SquareDraws) -> Images:
    """The candidate ``x_new`` of one Square iteration for given draws (no model call).

    Args:
      norm: "Linf", "L2" or "L1".
      eps: radius.
      x: (b, h, w, c) clean images.
      x_best: (b, h, w, c) current iterates (inside the eps-ball and [0, 1]).
      side: window side length (a Python int).
      draws: the iteration's random choices.

    Returns:
      (b, h, w, c) float32 candidates, as the reference's ``x_new``.
    """
    canvas = jnp.asarray(eta_pattern(side, norm)) if norm != "Linf" else jnp.zeros((1, 1), jnp.float32)
    return _propose(norm, eps, x.astype(jnp.float32), x_best.astype(jnp.float32), side, canvas, draws)


# ----------------------------------------------------------------------------------------------
# Draws and starting points.


def _window_draws(u: Float[Array, " n"], side, h: int, w: int, c: int):
    """Corners, Linf channel signs and transposition flag from ``5 + c`` uniforms in [0, 1).

    Corners are ``floor(U * (size - side))`` as in the reference's ``random_int`` (guarded against
    float rounding up to ``size - side``), signs ``sign(2U - 1)``, transposition ``U > 0.5``.
    """

    def position(u_size, size):
        room = size - side
        drawn = jnp.floor(u_size * jnp.asarray(room, jnp.float32)).astype(jnp.int32)
        return jnp.minimum(drawn, jnp.maximum(room - 1, 0))

    def corner(u_row, u_col):
        return jnp.stack([position(u_row, h), position(u_col, w)])

    signs = jnp.where(u[5 : 5 + c] < 0.5, -1.0, 1.0)
    return corner(u[0], u[1]), corner(u[2], u[3]), signs, u[4] > 0.5


def sample_draws(cfg: SquareConfig, shared_key: Key, point_keys: Key, it, side, shape) -> SquareDraws:
    """The draws of iteration ``it`` for a batch of ``shape`` (b, h, w, c) and window side ``side``.

    Window corners, Linf signs and the transposition come from ``fold_in(shared_key, it)`` (shared) or
    from each row's ``fold_in(point_key, it)`` (per_example); L2/L1 signs always come from the row's key.
    (One uniform draw per key keeps the number of PRNG kernels, and so compile time, small.)
    """
    b, h, w, c = shape
    u_points = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, it), (5 + 2 * c,)))(point_keys)
    if cfg.window == "shared":
        u_shared = jax.random.uniform(jax.random.fold_in(shared_key, it), (5 + c,))
        drawn = _window_draws(u_shared, side, h, w, c)
        corner, corner2, signs, transpose = (jnp.broadcast_to(a, (b,) + a.shape) for a in drawn)
    else:
        corner, corner2, signs, transpose = jax.vmap(lambda u: _window_draws(u, side, h, w, c))(u_points)
    if cfg.norm != "Linf":  # eta's signs are per image and channel in the reference
        signs = jnp.where(u_points[:, 5 + c :] < 0.5, -1.0, 1.0)
    return SquareDraws(corner, corner2, signs, transpose)


def block_grid(h: int, w: int) -> tuple[int, int, int, int]:
    """(block, offset, n_rows, n_cols) of the L2/L1 start: blocks of side h//5 from (offset, offset)."""
    block = h // 5
    if block < 1:
        raise ValueError(f"Square L2/L1 needs images at least 5 pixels high, got h={h}")
    return block, (h - 5 * block) // 2, h // block, w // block


def start_delta(
    norm: str, signs: Float[Array, "b rows cols c"], flips: Bool[Array, "b rows cols"], h: int, w: int
) -> Images:
    """The L2/L1 starting perturbation before scaling: signed ``eta(h//5)`` blocks (transposed where
    ``flips``), tiled from ``(offset, offset)``; blocks that would leave the image are cropped."""
    b, c = signs.shape[0], signs.shape[-1]
    block, offset, n_rows, n_cols = block_grid(h, w)
    eta = jnp.asarray(eta_pattern(block, norm))
    blocks = jnp.where(flips[..., None, None], eta.T[None, None, None], eta[None, None, None])
    tiles = blocks[..., None] * signs[:, :, :, None, None, :]  # (b, rows, cols, block, block, c)
    tiles = tiles.transpose(0, 1, 3, 2, 4, 5).reshape(b, n_rows * block, n_cols * block, c)
    canvas = jnp.zeros((b, max(h, offset + n_rows * block), max(w, offset + n_cols * block), c))
    canvas = canvas.at[:, offset : offset + n_rows * block, offset : offset + n_cols * block].set(tiles)
    return canvas[:, :h, :w]


class Streams(NamedTuple):
    """The keys of one restart (see the module docstring on shared versus per-image randomness)."""

    shared: Key  # per-iteration shared draws: fold_in(shared, it)
    start_shared: Key  # L2/L1 start: the blocks' transpositions
    start_points: Key  # (b,) per-point start draws (Linf stripes, L2/L1 block signs)
    step_points: Key  # (b,) per-point per-iteration draws: fold_in(step_points[i], it)


def streams(restart_key: Key, point_ids: PointIds) -> Streams:
    """Splits a restart's key into the shared and per-point streams."""
    return Streams(
        jax.random.fold_in(restart_key, 0),
        jax.random.fold_in(restart_key, 3),
        per_point_keys(jax.random.fold_in(restart_key, 1), point_ids),
        per_point_keys(jax.random.fold_in(restart_key, 2), point_ids),
    )


def start_draws(cfg: SquareConfig, keys: Streams, shape) -> tuple[Array, Array | None]:
    """Linf: (b, 1, w, c) stripe signs and None; L2/L1: (b, rows, cols, c) block signs and
    (b, rows, cols) transposition flags (shared across the batch unless ``window="per_example"``)."""
    b, h, w, c = shape
    if cfg.norm == "Linf":
        return jax.vmap(lambda k: jax.random.rademacher(k, (1, w, c), jnp.float32))(keys.start_points), None
    _, _, n_rows, n_cols = block_grid(h, w)
    signs = jax.vmap(lambda k: jax.random.rademacher(k, (n_rows, n_cols, c), jnp.float32))(keys.start_points)
    if cfg.window == "shared":
        flips = jax.random.bernoulli(keys.start_shared, 0.5, (n_rows, n_cols))
        return signs, jnp.broadcast_to(flips, (b, n_rows, n_cols))
    flips = jax.vmap(lambda k: jax.random.bernoulli(jax.random.fold_in(k, 1), 0.5, (n_rows, n_cols)))(
        keys.start_points
    )
    return signs, flips


def _start(cfg: SquareConfig, x: Images, keys: Streams) -> Images:
    """Linf: vertical stripes x + eps*sign(column, channel); L2/L1: the grid of signed eta blocks."""
    signs, flips = start_draws(cfg, keys, x.shape)
    if cfg.norm == "Linf":
        return jnp.clip(x + cfg.eps * signs, 0.0, 1.0)
    assert flips is not None  # drawn for L2/L1
    delta = start_delta(cfg.norm, signs, flips, *x.shape[1:3])
    if cfg.norm == "L2":
        norm = jnp.sqrt(jnp.sum(delta**2, axis=(1, 2, 3), keepdims=True))
        return jnp.clip(x + delta / (norm + 1e-12) * cfg.eps, 0.0, 1.0)
    return x + delta + l1_projection(x, delta, cfg.eps * (1.0 - 1e-6))


# ----------------------------------------------------------------------------------------------
# The attack loop.


class SquareCarry(NamedTuple):
    """Per-row state of one restart, carried across segments (every leaf has the batch first)."""

    x_best: Images
    margin_min: Float[Array, " b"]
    loss_min: Float[Array, " b"]
    n_queries: Int[Array, " b"]


def _start_restart(cfg: SquareConfig, model: Model, params: Params, x: Images, y: Labels, active: Mask, key: Key,
                   point_ids: PointIds) -> SquareCarry:
    """The start of one restart (its key: ``key``) on the ``active`` rows (1 query each)."""
    x_best = _start(cfg, x, streams(key, point_ids))
    margin_min = margin_loss(model(params, x_best, key=model_key(model, key, 0)), y)
    return SquareCarry(x_best, margin_min, margin_min, active.astype(jnp.int32))


def _iterate(cfg: SquareConfig, model: Model, params: Params, x: Images, y: Labels, active: Mask, key: Key,
             point_ids: PointIds, carry: SquareCarry, first: Array | int, last: Array | int) -> SquareCarry:
    """Iterations ``first`` .. ``last - 1`` of one restart (its key: ``key``) on the ``active`` rows."""
    shape = x.shape
    starts, sides, canvases = (jnp.asarray(a) for a in window_schedule(cfg, *shape[1:]))
    keys = streams(key, point_ids)

    def cond(s):
        it, c = s
        return (it < last) & jnp.any(active & (c.margin_min > 0.0))

    def body(s):
        it, c = s
        todo = active & (c.margin_min > 0.0) & (it < last)
        run = jnp.sum(it >= starts) - 1
        side = sides[run]
        draws = sample_draws(cfg, keys.shared, keys.step_points, it, side, shape)
        x_new = _propose(cfg.norm, cfg.eps, x, c.x_best, side, canvases[run], draws)
        loss = margin_loss(model(params, x_new, key=model_key(model, key, 1, it)), y)
        improved = todo & (loss < c.loss_min)
        accept = todo & (improved | (loss <= 0.0))
        return it + 1, SquareCarry(
            keep_where(accept, x_new, c.x_best),
            jnp.where(accept, loss, c.margin_min),
            jnp.where(improved, loss, c.loss_min),
            c.n_queries + todo.astype(jnp.int32),
        )

    # The reference's per-iteration ``break`` as a stop test between chunks of iterations: a
    # while_loop predicate is read back by the host every trip on GPU, so one trip runs
    # ITERATIONS_PER_STOP_TEST iterations; an iteration with nothing left to do changes no row.
    chunk = min(ITERATIONS_PER_STOP_TEST, cfg.n_queries)
    first = jnp.asarray(first, jnp.int32)
    _, carry = jax.lax.while_loop(cond, lambda s: jax.lax.fori_loop(0, chunk, lambda _, t: body(t), s),
                                  (first, carry))
    return carry
