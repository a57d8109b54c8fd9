"""Fuzzing the checkpoint readers: any bytes either load or raise a ``CheckpointError``; nothing runs.

Inputs: random bytes (bare or behind each format's magic), every truncation class of a valid file of
each supported format, random byte mutations of those files, and pickles (legacy files and the
``data.pkl`` of zip archives, rewrapped in a valid zip so the pickle is reached) with a live payload
spliced in at a random position. The payload calls ``_sentinel``, which a plain ``pickle.loads`` does
call (checked below); the readers never may.
"""

from __future__ import annotations

import io
import pickle
import tempfile
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from alignjax.weights.errors import CheckpointError
from alignjax.weights.readers import LoadedCheckpoint, load_checkpoint

SENTINEL_CALLS: list[tuple] = []


def _sentinel(*args):
    """Side effect that proves execution: a plain unpickler calls this for the spliced payloads."""
    SENTINEL_CALLS.append(args)
    return args


_MODULE = __name__.encode()
# Payloads in several opcode spellings, each resolving ``_sentinel`` through the pickle machine.
PAYLOADS = (
    b"c" + _MODULE + b"\n_sentinel\n(S'global'\ntR",  # GLOBAL + REDUCE (protocol 0-3)
    b"(i" + _MODULE + b"\n_sentinel\nS'inst'\n",  # INST: MARK args ... i module name
    b"(c" + _MODULE + b"\n_sentinel\nS'obj'\no",  # OBJ: MARK cls args o
    b"\x8c" + bytes([len(_MODULE)]) + _MODULE + b"\x8c\x09_sentinel\x93\x8c\x05stack\x85R",  # STACK_GLOBAL
)


def _torch_state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=gen)
    return {"conv.weight": torch.randn(2, 3, 3, 3, generator=gen),
            "bn.bias": torch.randn(2, generator=gen).half(), "t": base.t(), "view": base[1:3, ::2],
            "expanded": torch.randn(3, 1, generator=gen).expand(3, 4),
            "steps": torch.arange(3), "bf": torch.randn(2, generator=gen).bfloat16()}


def _valid_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=np.int64)}
        save_file(arrays, str(path), metadata={"note": "fuzz"})
        files["safetensors"] = path.read_bytes()
        state = _torch_state()
        torch.save(state, path)
        files["torch_zip"] = path.read_bytes()
        torch.save({"state_dict": state, "epoch": 3}, path, _use_new_zipfile_serialization=False)
        files["torch_legacy"] = path.read_bytes()
    buffer = io.BytesIO()
    np.savez(buffer, w=np.ones((2, 2), np.float32), b=np.zeros(3, np.float16))
    files["npz"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, w=np.arange(10, dtype=np.float32))
    files["npz_compressed"] = buffer.getvalue()
    return files


VALID = _valid_files()
MAGICS = (b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00", b"\x80\x02", b"\x80\x05",
          (40).to_bytes(8, "little") + b"{", (640).to_bytes(8, "little") + b'{"')


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def _load(workdir: Path, data: bytes) -> None:
    """Loads ``data`` as a checkpoint file: a result or a CheckpointError with a message, nothing else."""
    path = workdir / "checkpoint.bin"
    path.write_bytes(data)
    try:
        loaded = load_checkpoint(path)
    except CheckpointError as err:
        assert str(err).strip(), "a CheckpointError without a message"
        return
    assert isinstance(loaded, LoadedCheckpoint)
    assert all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in loaded.state_dict.items())


def _zip_with_pickle(pickled: bytes) -> bytes:
    """The valid torch zip with its data.pkl replaced (a valid archive, so the pickle is read)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID["torch_zip"])) as original, zipfile.ZipFile(out, "w") as archive:
        for name in original.namelist():
            data = original.read(name)
            archive.writestr(name, pickled if name.endswith("/data.pkl") else data)
    return out.getvalue()


def _data_pkl() -> bytes:
    with zipfile.ZipFile(io.BytesIO(VALID["torch_zip"])) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))


DATA_PKL = _data_pkl()


def test_the_valid_files_load_and_the_payloads_are_live(workdir):
    for name, data in VALID.items():
        path = workdir / name
        path.write_bytes(data)
        assert load_checkpoint(path).state_dict, name
    for payload in PAYLOADS:  # a plain unpickler runs each payload: the fuzzing below is meaningful
        SENTINEL_CALLS.clear()
        pickle.loads(b"\x80\x04" + payload + b".")
        assert len(SENTINEL_CALLS) == 1, payload
    SENTINEL_CALLS.clear()


@settings(max_examples=150)
@given(prefix=st.sampled_from(MAGICS), body=st.binary(max_size=600))
def test_random_bytes(workdir, prefix, body):
    _load(workdir, prefix + body)


POSITIONS = st.integers(0, 2**31)  # mapped onto the file by ``_spread``


def _spread(position: int, length: int) -> int:
    """Hypothesis favours small integers; multiplicative hashing spreads them over the whole file."""
    return (position * 2654435761) % length

EDITS = st.lists(st.tuples(POSITIONS, st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=200)
@given(fmt=st.sampled_from(sorted(VALID)), position=POSITIONS)
def test_truncations(workdir, fmt, position):
    data = VALID[fmt]
    _load(workdir, data[: position % len(data)])


@settings(max_examples=250)
@given(fmt=st.sampled_from(sorted(VALID)), edits=EDITS)
def test_byte_mutations(workdir, fmt, edits):
    data = bytearray(VALID[fmt])
    for position, value in edits:
        data[_spread(position, len(data))] = value
    _load(workdir, bytes(data))


@settings(max_examples=250)
@given(container=st.sampled_from(("legacy", "zip")), payload=st.sampled_from(PAYLOADS), where=POSITIONS,
       edits=st.lists(st.tuples(POSITIONS, st.integers(0, 255)), max_size=3))
def test_mutated_pickles_never_execute(workdir, container, payload, where, edits):
    base = VALID["torch_legacy"] if container == "legacy" else DATA_PKL
    cut = where % (len(base) + 1)
    data = bytearray(base[:cut] + payload + base[cut:])
    for position, value in edits:
        index = _spread(position, len(data))
        if not cut <= index < cut + len(payload):  # keep the payload intact, damage the rest
            data[index] = value
    _load(workdir, bytes(data) if container == "legacy" else _zip_with_pickle(bytes(data)))
    assert SENTINEL_CALLS == [], "a checkpoint reader executed code from a pickle"


@pytest.mark.parametrize("length", [640, 896, 1152, 1408, 65536 + 640, 65536 + 1408, 632, 704])
def test_safetensors_with_headers_that_start_like_a_pickle(workdir, length):
    """Every header length class, including those whose first two bytes read as 0x80 0x02..0x05."""
    metadata = {"pad": ""}
    path = workdir / "h.safetensors"
    arrays = {"w": np.arange(3, dtype=np.float32), "h": np.ones(2, ml_dtypes.bfloat16).view(np.uint16)}
    save_file(arrays, str(path), metadata=metadata)
    base = int.from_bytes(path.read_bytes()[:8], "little")
    metadata["pad"] = "x" * (length - base)  # the header grows by exactly this many bytes
    save_file(arrays, str(path), metadata=metadata)
    raw = path.read_bytes()
    assert int.from_bytes(raw[:8], "little") == length
    loaded = load_checkpoint(path)
    assert loaded.format == "safetensors"
    np.testing.assert_array_equal(loaded.state_dict["w"], arrays["w"])


@pytest.mark.parametrize("legacy", [False, True])
def test_a_stride_zero_tensor_with_a_huge_shape_is_refused_before_allocating(workdir, legacy):
    """``expand`` costs torch nothing; materialising (2**40,) float32 would ask for 4 TiB."""
    path = workdir / "expanded.pt"
    torch.save({"w": torch.ones(1).expand(2**40)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(CheckpointError, match="would take 4398046511104 bytes"):
        load_checkpoint(path)


def test_a_numpy_member_claiming_more_than_it_holds_is_refused_before_allocating(workdir):
    """A valid zip (right CRC) whose .npy header says (10**12,) float32 but holds 16 bytes."""
    member = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(np.ones(4, np.float32))
    np.lib.format.write_array_header_1_0(member, {**header, "shape": (10**12,)})
    raw = member.getvalue() + np.ones(4, np.float32).tobytes()
    path = workdir / "claims.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", raw)
    with pytest.raises(CheckpointError, match="does not match its 16 bytes"):
        load_checkpoint(path)
