"""A hostile corpus through the real command line: each case runs ``alignjax.cli.main(argv)`` and must
exit with status 2, print exactly one ``alignjax <command>: error:`` line naming the problem, raise
nothing (no ``Traceback``) and leave nothing in ``--out``. One case of each kind (``AS_SUBPROCESS``) also
runs as a ``python -m alignjax.cli`` subprocess, so that the real process's exit status and stderr are
checked too.

Every input is generated here, small, in one module-scoped folder (nothing large is committed): damaged
``.npz`` and parquet files, images with NaN, inf or out-of-range values, wrong ranks and layouts, labels
of the wrong dtype or range (2**40 and other values beyond int32 that a cast would wrap into valid
classes), x/y length mismatches, empty and corrupt image folders, faulty labels CSVs, bad flags and eps
strings, pickles and torch zips whose unpickling would run ``os.system`` (built by hand, no torch), lying
safetensors headers, outputs that cannot be written, and a folder where a file is expected. Each case
fails before anything is compiled but the model's one probing forward pass; a subprocess costs about 2 s
of jax import, a call of ``main`` milliseconds.

A full disk is simulated with ``RLIMIT_FSIZE`` in the child (Python ignores SIGXFSZ, so a write beyond
the limit fails with EFBIG): the run stops with one line, and a rerun with room on the same ``--out``
ends with the uninterrupted result.

Label values beyond int32 in every dtype are also checked in this process, through the CLI and the
Python API; a labels CSV row naming a missing file is counted on the run's ``data:`` line, not an error.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.cli import main
from alignjax.data import attack_data, open_dataset
from alignjax.weights.torch_archive import LEGACY_MAGIC, LEGACY_PROTOCOL

COMMAND = [sys.executable, "-m", "alignjax.cli"]
OUT = "{out}"  # stands for the case's --out folder (absent before the run) in an argument list
CHEAP = ["--version", "custom", "--attacks", "apgd-ce(n_iter=2)", "--no-checks", "--no-progress"]


def _environment() -> dict[str, str]:
    """The CLI offline, on the CPU, without the persistent compilation cache (conftest.py's settings)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "JAX_PLATFORMS": "cpu", "HF_HUB_OFFLINE": "1",
            "ALIGNJAX_COMPILATION_CACHE": "0"}


# `python -m alignjax.cli` with files limited to argv[1] bytes, set in the child itself: a preexec_fn
# is unsafe in this threaded (jax) process
LIMITED = ("import resource, runpy, sys\n"
           "limit = int(sys.argv.pop(1))\n"
           "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
           "runpy.run_module('alignjax.cli', run_name='__main__', alter_sys=True)\n")


def _cli(argv: list[str], cwd: Path, *, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    command = COMMAND if file_size_limit is None else [sys.executable, "-c", LIMITED, str(file_size_limit)]
    return subprocess.run([*command, *argv], cwd=cwd, env=_environment(), capture_output=True, text=True,
                          timeout=300, check=False)


def _error_lines(stderr: str, command: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"alignjax {command}: error:")]


class _Payload:
    """Unpickling this calls ``function(*args)``: the classic ``__reduce__`` exploit."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, format="PNG")
    return buffer.getvalue()


def _safetensors(header: dict | bytes, data: bytes, *, claimed_length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if claimed_length is None else claimed_length) + raw + data


def _write_inputs(root: Path, marker: Path) -> None:
    """Every file a case names, under ``root``; a malicious pickle that ran would create ``marker``."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 8, 8, 1)).astype(np.float32)
    y = np.arange(6) % 10
    arrays = {
        "ok": (x, y),
        "nan_inf": (np.where(np.arange(6)[:, None, None, None] == 2, np.nan,
                             np.where(np.arange(6)[:, None, None, None] == 4, np.inf, x)), y),
        "range255": (x * 255, y),
        "negative": (x - 0.5, y),
        "rank3": (x[..., 0], y),
        "nchw": (np.transpose(x, (0, 3, 1, 2)), y),
        "labels_fraction": (x, np.array([0.0, 1.5, 2.0, 3.0, 4.0, 5.0])),
        "labels_bool": (x, np.arange(6) % 2 == 0),
        "labels_strings": (x, np.array(["cat", "dog", "cat", "dog", "cat", "dog"])),
        "labels_negative": (x, np.array([0, -1, 2, 3, 4, 5])),
        "labels_2d": (x, y[:, None]),
        "labels_beyond_classes": (x, np.array([0, 1, 2, 3, 4, 10])),
        "mismatch": (x, y[:5]),
        **{f"wrap_{name}": (x, labels) for name, labels in LABELS_BEYOND_INT32.items()},
    }
    for name, (images, labels) in arrays.items():
        np.savez(root / f"{name}.npz", x=images, y=labels)
    np.savez(root / "no_labels.npz", x=x)
    np.savez(root / "object_labels.npz", x=x, y=np.array([_Payload(os.system, f"touch {marker}")] * 6, object))
    ok = (root / "ok.npz").read_bytes()
    (root / "truncated.npz").write_bytes(ok[: len(ok) // 2])
    (root / "corrupt.npz").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (root / "dir.npz").mkdir()

    pixels = (x[..., 0] * 255).astype(np.uint8)
    images = [{"bytes": _png(p), "path": f"{i}.png"} for i, p in enumerate(pixels)]
    pl.DataFrame({"image": images, "label": y}).write_parquet(root / "ok.parquet")
    parquet = (root / "ok.parquet").read_bytes()
    (root / "truncated.parquet").write_bytes(parquet[: len(parquet) // 2])
    (root / "corrupt.parquet").write_bytes(b"PAR1" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes() + b"PAR1")
    broken = [{"bytes": b"\x89PNG\r\n\x1a\n not an image", "path": "0.png"}, *images[1:]]
    pl.DataFrame({"image": broken, "label": y}).write_parquet(root / "corrupt_image.parquet")

    (root / "empty_folder").mkdir()
    for label in range(2):
        folder = root / "corrupt_images" / f"class{label}"
        folder.mkdir(parents=True)
        for index in range(2):
            (folder / f"{index}.png").write_bytes(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
    (root / "flat").mkdir()
    for index, p in enumerate(pixels[:3]):
        (root / "flat" / f"{index}.png").write_bytes(_png(p))
    (root / "empty.csv").write_text("")
    (root / "no_label_column.csv").write_text("file,class_name\n0.png,1\n1.png,2\n2.png,3\n")
    (root / "missing_file.csv").write_text("file,label\n0.png,0\n1.png,1\n2.png,2\n9.png,3\n")
    (root / "beyond_int32.csv").write_text("file,label\n0.png,4294967299\n1.png,1\n2.png,2\n")

    evil = pickle.dumps({"conv.weight": _Payload(os.system, f"touch {marker}")}, protocol=2)
    legacy = [pickle.dumps(LEGACY_MAGIC, protocol=2), pickle.dumps(LEGACY_PROTOCOL, protocol=2),
              pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2), evil,
              pickle.dumps([], protocol=2)]
    (root / "evil.pt").write_bytes(b"".join(legacy))
    with zipfile.ZipFile(root / "evil_zip.pt", "w") as archive:  # torch.save's layout, by hand
        archive.writestr("archive/data.pkl", evil)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", np.ones(4, np.float32).tobytes())
        archive.writestr("archive/version", "3\n")
    entry = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    data = np.ones(4, np.float32).tobytes()
    (root / "length_beyond_file.safetensors").write_bytes(_safetensors(entry, data, claimed_length=1 << 40))
    entry_beyond = {"w": {"dtype": "F32", "shape": [400], "data_offsets": [0, 1600]}}
    (root / "offsets_beyond_file.safetensors").write_bytes(_safetensors(entry_beyond, data))
    (root / "nested.safetensors").write_bytes(_safetensors(b'{"a":' + b"[" * 100_000, b""))

    (root / "afile").write_text("x")


# labels that a cast to int32 would wrap into valid classes: 2**40 -> 0, 2**32 + 3 -> 3, 8589934597.0 -> 5
LABELS_BEYOND_INT32 = {
    "2**40": np.array([2**40, 1, 2, 3, 4, 5]),
    "2**32+3": np.array([2**32 + 3, 1, 2, 3, 4, 5]),
    "float_8589934597": np.array([8589934597.0, 1, 2, 3, 4, 5]),
    "uint64_above_int64": np.array([2**63 + 5, 1, 2, 3, 4, 5], dtype=np.uint64),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    _write_inputs(root, root / "pwned")
    return root


def _npz(name: str) -> list[str]:
    return ["--data", f"{name}.npz"]


SMALL_CNN = ["--arch", "small_cnn", *_npz("ok")]
REFUSED = f"refusing to load global '{os.system.__module__}.system'"  # posix.system on Linux
# id -> (arguments after the command, a distinctive part of the error line); the command is `attack`
# unless the arguments start with another one
CASES: dict[str, tuple[list[str], str]] = {
    # damaged files
    "npz truncated": (_npz("truncated"), "truncated"),
    "npz of random bytes": (_npz("corrupt"), "not an .npz"),
    "npz without y": (_npz("no_labels"), "no array(s) named ['y']"),
    "npz labels as pickled objects": (_npz("object_labels"), "pickle"),
    "parquet truncated": (["--data", "truncated.parquet"], "not a readable parquet file"),
    "parquet of random bytes": (["--data", "corrupt.parquet"], "not a readable parquet file"),
    "parquet with a corrupt first image": (["--data", "corrupt_image.parquet"], "cannot decode image 0.png"),
    # image values, ranks and layouts
    "images with NaN and inf": (_npz("nan_inf"), "NaN or inf"),
    "images in 0..255 as floats": (_npz("range255"), "divide by 255"),
    "negative images": (_npz("negative"), "[0, 1]"),
    "images of rank 3": (_npz("rank3"), "4-D batch"),
    "NCHW images read as NHWC": (_npz("nchw"), "--layout nchw"),
    "NHWC images read as NCHW": ([*_npz("ok"), "--layout", "nchw"], "channels"),
    # label dtypes, ranks and ranges
    "labels with fractions": (_npz("labels_fraction"), "fractional"),
    "labels as booleans": (_npz("labels_bool"), "booleans"),
    "labels as strings": (_npz("labels_strings"), "must be integers"),
    "negative labels": (_npz("labels_negative"), "non-negative"),
    "labels of rank 2": (_npz("labels_2d"), "one-dimensional"),
    "labels beyond the model's classes": (_npz("labels_beyond_classes"), "do not fit a model with 10 classes"),
    "labels 2**40 (beyond int32)": (_npz("wrap_2**40"), "class indices"),
    "x and y of different lengths": (_npz("mismatch"), "every image needs exactly one label"),
    # folders and labels CSVs
    "empty image folder": (["--data", "empty_folder"], "no class subfolders"),
    "folder of corrupt images": (["--data", "corrupt_images"], "cannot decode"),
    "empty labels CSV": (["--data", "flat", "--labels", "empty.csv"], "is empty"),
    "labels CSV without a label column": (["--data", "flat", "--labels", "no_label_column.csv"], "needs a label column"),
    "labels CSV beyond int32": (["--data", "flat", "--labels", "beyond_int32.csv"], "class indices"),
    "npz read as a folder": ([*_npz("ok"), "--data-format", "folder"], "is a file, but data format 'folder'"),
    "npz read as parquet": ([*_npz("ok"), "--data-format", "parquet"], "not a readable parquet file"),
    # a folder where a file is expected
    "a folder as the npz": (["--data", "dir.npz", "--data-format", "npz"], "is a directory"),
    "a folder as the labels CSV": (["--data", "flat", "--labels", "flat"], "--labels flat is a directory"),
    "a folder as the weights": ([*SMALL_CNN, "--weights", "flat"], "--weights flat is a directory"),
    "a folder as the checkpoint to convert": (["convert", "flat", "--arch", "small_cnn", "--out", OUT],
                                              "checkpoint flat is a directory"),
    # flags and eps strings
    "eps 8/0": ([*_npz("ok"), "--eps", "8/0"], "8/0"),
    "eps abc": ([*_npz("ok"), "--eps", "abc"], "'abc'"),
    "negative eps": ([*_npz("ok"), "--eps", "-1"], "eps must be positive"),
    "an unknown flag": ([*_npz("ok"), "--epsilon", "0.1"], "--epsilon"),
    "n 0": ([*_npz("ok"), "--n", "0"], "--n must be positive"),
    "batch size 0": ([*_npz("ok"), "--batch-size", "0"], "--batch-size"),
    "an attack setting that is not a number": ([*_npz("ok"), "--version", "custom", "--attacks", "apgd-ce(n_iter=x)"],
                                               "n_iter='x' must be a whole number"),
    "an unknown architecture": ([*SMALL_CNN[:1], "resnet5", *SMALL_CNN[2:], "--weights", "ok.npz"],
                                "unknown architecture 'resnet5'; did you mean resnet50"),
    # hostile checkpoints
    "legacy torch file calling os.system": ([*SMALL_CNN, "--weights", "evil.pt"], REFUSED),
    "torch zip calling os.system": ([*SMALL_CNN, "--weights", "evil_zip.pt"], REFUSED),
    "convert a pickle calling os.system": (["convert", "evil.pt", "--arch", "small_cnn", "--out", OUT], REFUSED),
    "safetensors header length beyond the file": ([*SMALL_CNN, "--weights", "length_beyond_file.safetensors"],
                                                  "length field says 1099511627776 bytes"),
    "safetensors offsets beyond the file": ([*SMALL_CNN, "--weights", "offsets_beyond_file.safetensors"],
                                            "lies outside the file"),
    "safetensors header of nested brackets": ([*SMALL_CNN, "--weights", "nested.safetensors"],
                                              "corrupt safetensors header"),
    # outputs that cannot be written
    "out below a regular file": ([*_npz("ok"), *CHEAP, "--out", "afile/sub"], "a part of that path is a file"),
}
COMMANDS = ("convert", "analyze", "sweep", "align", "models", "results", "crosscheck")


# the cases that also run as `python -m alignjax.cli` subprocesses: one of each kind of failure
AS_SUBPROCESS = ("npz of random bytes", "parquet with a corrupt first image", "labels 2**40 (beyond int32)",
                 "a folder as the weights", "an unknown flag", "legacy torch file calling os.system",
                 "convert a pickle calling os.system", "safetensors header of nested brackets")


def _in_process(argv: list[str], cwd: Path, capsys, monkeypatch) -> subprocess.CompletedProcess:
    """``alignjax.cli.main(argv)`` in ``cwd``, as a finished process: argparse's exit status is caught,
    any other exception escapes (and fails the test with its traceback)."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse: usage, then exit status 2
        code = stop.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["alignjax", *argv], code, captured.out, captured.err)


@pytest.mark.parametrize(("argv", "message", "how"), [
    *(pytest.param(argv, message, "main", id=name) for name, (argv, message) in CASES.items()),
    *(pytest.param(*CASES[name], "subprocess", id=f"{name} (subprocess)") for name in AS_SUBPROCESS),
])
def test_hostile_input_is_one_line_and_writes_nothing(corpus, tmp_path, argv, message, how, capsys, monkeypatch):
    out = tmp_path / "out"
    command, argv = (argv[0], argv[1:]) if argv[0] in COMMANDS else ("attack", argv)
    argv = [str(out) if arg == OUT else arg for arg in argv]
    if command == "attack" and "--out" not in argv:
        argv = [*argv, "--out", str(out)]
    run = _cli if how == "subprocess" else functools.partial(_in_process, capsys=capsys, monkeypatch=monkeypatch)
    done = run([command, *argv], corpus)
    errors = _error_lines(done.stderr, command)
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-3000:]
    assert message in errors[0], errors[0]
    assert " object at 0x" not in errors[0], errors[0]  # no Python reprs ("<_io.BytesIO object at 0x...>")
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not out.exists() or not any(out.iterdir())
    assert not (corpus / "pwned").exists()  # no pickle ran code
    assert (corpus / "afile").read_text() == "x"


def _unwritable_by_permissions(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0o500 folder: chmod does not bite (the /sys case runs instead)")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked


def _unwritable_by_the_kernel(tmp_path: Path) -> Path:
    if not sys.platform.startswith("linux") or not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux's sysfs, where nobody may create folders")
    return Path("/sys")


UNWRITABLE = {"a 0o500 folder": (_unwritable_by_permissions, "permission denied"),
              "sysfs, refused even to root": (_unwritable_by_the_kernel, "does not permit writing there")}


@pytest.mark.parametrize(("folder", "message"), UNWRITABLE.values(), ids=UNWRITABLE.keys())
def test_an_unwritable_out_is_one_line(corpus, tmp_path, folder, message):
    parent = folder(tmp_path)
    out = parent / "alignjax-hostile-corpus" / "out"
    try:
        done = _cli(["attack", *_npz("ok"), *CHEAP, "--out", str(out)], corpus)
    finally:
        if parent != Path("/sys"):
            parent.chmod(0o700)
    errors = _error_lines(done.stderr, "attack")
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert message in errors[0] and str(parent / "alignjax-hostile-corpus") in errors[0], errors[0]
    assert not out.parent.exists()


@pytest.mark.parametrize("name", LABELS_BEYOND_INT32)
def test_labels_beyond_int32_are_refused_not_wrapped(corpus, name, capsys, monkeypatch):
    """Every dtype a cast to int32 would wrap into a valid class (the subprocess case above covers 2**40):
    through the CLI in this process, and through the Python API with and without a class count."""
    monkeypatch.chdir(corpus)
    out = corpus / f"never-{name}"
    assert main(["attack", *_npz(f"wrap_{name}"), "--out", str(out)]) == 2
    assert "class indices" in capsys.readouterr().err and not out.exists()
    for num_classes in (None, 10):
        with pytest.raises(ValueError, match="class indices"):
            attack_data(f"wrap_{name}.npz", num_classes=num_classes)


def test_a_labels_csv_row_naming_a_missing_file_is_named_not_dropped_silently(corpus):
    """Rows for files not in the folder are allowed (a labels file of the whole ImageNet validation set
    for a folder holding part of it, as in the README), but the data description that ``alignjax attack``
    prints on its ``data:`` line (and records in the manifest) counts them."""
    dataset = open_dataset(corpus / "flat", labels=corpus / "missing_file.csv")
    assert len(dataset) == 3
    assert "(1 labelled file(s) not in the folder ignored)" in dataset.description


FULL_DISK = ["attack", "--version", "custom", "--attacks", "apgd-ce(n_iter=3)", "--n", "24",
             "--batch-size", "8", "--checkpoint-seconds", "0", "--no-checks", "--no-progress"]
RESULTS = ["manifest.json", "points.parquet", "summary.json"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> pl.DataFrame:
    """points.parquet of the full-disk command run with room."""
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    done = _cli([*FULL_DISK, "--out", str(out)], out.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return pl.read_parquet(out / "points.parquet")


def _full_disk_run(out: Path, limit: int) -> str:
    """Runs the command with files limited to ``limit`` bytes; returns its one error line."""
    full = _cli([*FULL_DISK, "--out", str(out)], out.parent, file_size_limit=limit)
    errors = _error_lines(full.stderr, "attack")
    assert full.returncode == 2 and len(errors) == 1 and "Traceback" not in full.stderr, full.stderr[-3000:]
    assert "File too large" in errors[0] and "run the same command again" in errors[0], errors[0]
    assert [p.name for p in out.rglob("*") if p.is_file()] == []  # no lock, temporaries or half a state
    return errors[0]


def test_a_full_disk_at_the_first_checkpoint_stops_with_one_line_and_the_rerun_completes(tmp_path, uninterrupted):
    """2048 bytes let the lock file through and fail the first checkpoint of the state (larger than that),
    before any result exists."""
    out = tmp_path / "out"
    assert str(out / "state" / "state.npz") in _full_disk_run(out, 2048)
    again = _cli([*FULL_DISK, "--out", str(out)], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert pl.read_parquet(out / "points.parquet").equals(uninterrupted)
    assert sorted(p.name for p in out.iterdir()) == RESULTS


def test_a_full_disk_at_the_lock_file_leaves_no_lock(tmp_path):
    """0 bytes fail the first write, the process id in the lock file: no stale lock file stays (the next
    run starts as on an empty folder, which the test above covers)."""
    _full_disk_run(tmp_path / "out", 0)
