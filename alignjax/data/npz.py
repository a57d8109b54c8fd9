"""Images and labels from an ``.npz`` file (``numpy.savez(path, x=images, y=labels)``), read safely.

``x`` is (n, h, w, c) uint8 (0..255) or float in [0, 1] (NHWC; ``layout='nchw'`` transposes PyTorch-style
arrays), ``y`` (n,) integer labels. Object arrays are never loaded (``allow_pickle=False``: unpickling
can run code). The file's kind is recognised by its signature before NumPy reads it, so a damaged or
wrong file gets one message that names the problem and the fix, never a traceback and never a hint
to load pickles: a zero-byte or truncated download, a CRC error, a ``.npy`` holding one array, or a
web page saved under the file's name.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

from alignjax.data.arrays import ArrayDataset, check_labels

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
NPY_SIGNATURE = b"\x93NUMPY"
SAVE_HINT = "save the data with numpy.savez(path, x=images, y=labels)"


def _looks_like(head: bytes) -> str:
    """A short description of what a non-npz file starts with."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return "is a web page (HTML/XML), not the data: download the file itself, not the page linking to it"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] in range(2, 6):
        return "is a pickle, which alignjax never loads because unpickling can run code"
    if head.startswith(b"PAR1"):
        return "is a parquet file: pass it as it is (--data FILE.parquet), it is read as a table of images"
    shown = head[:16].decode("ascii", "backslashreplace")
    return f"starts with {shown!r}, which is not the zip signature of an .npz"


def read_npz_arrays(path: str | PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of an ``.npz`` file, unchecked beyond being readable numeric arrays.

    Raises:
      FileNotFoundError: no such file.
      ValueError: one line naming what is wrong with the file and how to fix it.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an .npz file; give the file (or drop --data-format npz "
                         "to read the folder as images)")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with path.open("rb") as handle:
        head = handle.read(64)
    if not head:
        raise ValueError(f"{path} is empty (0 bytes): the download or the save did not finish; {SAVE_HINT}")
    if head.startswith(NPY_SIGNATURE):
        raise ValueError(
            f"{path} is a .npy file holding one array; the data needs images and labels in one .npz: "
            f"{SAVE_HINT}"
        )
    if not head.startswith(ZIP_SIGNATURES):
        raise ValueError(f"{path} is not an .npz file: it {_looks_like(head)}; {SAVE_HINT}")
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:  # closed on errors too
            missing = sorted({"x", "y"} - set(archive.files))
            if missing:
                raise ValueError(
                    f"{path} has no array(s) named {missing} (it holds {sorted(archive.files)}); {SAVE_HINT}"
                )
            x, y = archive["x"], archive["y"]
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        raise ValueError(
            f"{path} is a damaged .npz (truncated or corrupt: {type(error).__name__}: {error}); "
            "download or save it again"
        ) from None
    except ValueError as error:
        if "pickle" in str(error):  # NumPy's message for object arrays offers an unsafe option
            raise ValueError(
                f"{path} holds object arrays (pickled Python objects), which alignjax never loads because "
                "unpickling can run code; store x as uint8 or float32 and y as integers"
            ) from None
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read its arrays ({error}); {SAVE_HINT}") from None
    return x, y


def to_nhwc(x: np.ndarray, layout: Literal["nhwc", "nchw"], *, what: str = "x") -> np.ndarray:
    """``x`` in NHWC: transposed from NCHW when ``layout='nchw'``; a scalar or a rank other than 4 is refused."""
    if layout not in ("nhwc", "nchw"):
        raise ValueError(f"unknown layout {layout!r}; use 'nhwc' or 'nchw'")
    if x.ndim == 0:
        raise ValueError(f"{what} is a scalar; it must be a 4-D batch of images (n, height, width, channels)")
    if layout == "nchw":
        if x.ndim != 4:
            raise ValueError(f"{what} must be a 4-D batch of images (n, channels, height, width), got {x.shape}")
        if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
            raise ValueError(f"{what} looks channels-last {x.shape}: drop --layout nchw (Python: layout='nhwc')")
        return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))
    return x


def load_npz(
    path: str | PathLike,
    *,
    layout: Literal["nhwc", "nchw"] = "nhwc",
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
) -> ArrayDataset:
    """Reads and checks ``x`` and ``y`` (module docstring) into an ``ArrayDataset``.

    Every check runs on the whole file (lengths of ``x`` and ``y`` included) before anything is cut.

    Args:
      path: the ``.npz`` file.
      layout: 'nhwc' (default) or 'nchw' for PyTorch-style arrays.
      num_classes: when given, labels must be < num_classes.
      classes: class names, index = label, when known.
    """
    x, y = read_npz_arrays(path)
    try:
        x = to_nhwc(x, layout)
        y = check_labels(y, num_classes, what="y")
        return ArrayDataset(
            x, y, description=f"npz {Path(path).name}", classes=tuple(classes) if classes else None
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
