"""Input checks shared by the cascade and the CLI: every message names the problem and the fix."""

from __future__ import annotations

import numpy as np

from alignjax.errors import InputError

__all__ = ["InputError", "validate_images", "validate_labels", "validate_logits"]


def validate_images(x: np.ndarray, *, name: str = "x") -> np.ndarray:
    """Returns x as float32 NHWC, after checking rank, dtype, finiteness and the [0, 1] range."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(
            f"{name} must be a 4-D batch of images (n, height, width, channels), got shape {x.shape}; "
            "add a batch axis or a channel axis (e.g. x[..., None] for grayscale)"
        )
    if not np.issubdtype(x.dtype, np.floating):
        hint = " (uint8 images: divide by 255)" if x.dtype == np.uint8 else ""
        raise InputError(f"{name} must hold floats in [0, 1], got dtype {x.dtype}{hint}")
    if x.shape[0] == 0:
        raise InputError(f"{name} is empty: there is nothing to evaluate")
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.unique(np.nonzero(~finite.reshape(x.shape[0], -1))[0])
        raise InputError(
            f"{name} holds NaN or inf in {len(bad)} image(s), first indices {bad[:5].tolist()}; "
            "clean the data before attacking"
        )
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        hint = " (looks like 0..255: divide by 255)" if hi > 1.5 else " (normalised inputs? the model must normalise internally)"
        raise InputError(f"{name} must lie in [0, 1], found min {lo:.4g} and max {hi:.4g}{hint}")
    return x.astype(np.float32, copy=False)


def validate_labels(y: np.ndarray, n: int, num_classes: int | None = None, *, name: str = "y") -> np.ndarray:
    """Returns y as int32 (n,), after checking shape, dtype and range."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"{name} must have shape ({n},) to match the images, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise InputError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise InputError(f"{name} holds negative labels (min {int(y.min())}); labels are 0..num_classes-1")
    if y.size and y.max() > np.iinfo(np.int32).max:  # compared before any cast, which would wrap it
        raise InputError(f"{name} holds label {int(y.max())}, beyond any class count; labels are 0..num_classes-1")
    if num_classes is not None and y.size and y.max() >= num_classes:
        raise InputError(
            f"{name} holds label {int(y.max())} but the model has {num_classes} classes (0..{num_classes - 1}); "
            "check the dataset's class mapping against the model"
        )
    return y.astype(np.int32, copy=False)


def validate_logits(logits: np.ndarray, n: int) -> int:
    """Checks a model's output on a probe batch and returns the number of classes."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[0] != n:
        raise InputError(
            f"the model must return logits of shape (batch, num_classes), got {logits.shape} for a batch of {n}"
        )
    if not np.isfinite(logits).all():
        raise InputError("the model returned NaN or inf logits on clean inputs; check the weights and inputs")
    return int(logits.shape[1])
