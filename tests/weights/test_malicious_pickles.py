"""Hostile checkpoints: forbidden globals are refused by name and nothing they name ever runs."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from alignjax.weights.readers import CheckpointFormatError, UnsafeCheckpointError, read_state_dict
from alignjax.weights.torch_archive import LEGACY_MAGIC, LEGACY_PROTOCOL


class _Payload:
    """Unpickling this calls ``function(*args)``: the classic ``__reduce__`` exploit."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _zip_container(path, payload_pickle: bytes) -> None:
    """A torch.save-style zip whose data.pkl is the payload (next to a real tensor storage)."""
    torch.save({"w": torch.ones(4)}, path)
    with zipfile.ZipFile(path) as original:
        members = {name: original.read(name) for name in original.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, payload_pickle if name.endswith("/data.pkl") else data)


def _legacy_container(path, payload_pickle: bytes, position: str = "main") -> None:
    """A legacy torch file: magic, protocol, sys info, main pickle, storage keys; payload at ``position``."""
    parts = {
        "magic": pickle.dumps(LEGACY_MAGIC, protocol=2),
        "protocol": pickle.dumps(LEGACY_PROTOCOL, protocol=2),
        "sys_info": pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        "main": pickle.dumps({}, protocol=2),
        "keys": pickle.dumps([], protocol=2),
    }
    parts[position] = payload_pickle
    path.write_bytes(b"".join(parts.values()))


PAYLOADS = {
    "os.system": lambda marker: _Payload(os.system, f"touch {marker}"),
    "builtins.eval": lambda marker: _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
    "builtins.exec": lambda marker: _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
    "subprocess.Popen": lambda marker: _Payload(subprocess.Popen, ["touch", str(marker)]),
}
# pickle records os.system under the module that defines it: posix on Linux, nt on Windows.
EXPECTED_GLOBAL = {"os.system": f"{os.system.__module__}.system", "builtins.eval": "builtins.eval",
                   "builtins.exec": "builtins.exec", "subprocess.Popen": "subprocess.Popen"}


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("container", ["zip", "legacy"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_forbidden_global_is_refused_and_never_runs(tmp_path, container, payload, protocol):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"conv.weight": PAYLOADS[payload](marker)}, protocol=protocol)
    path = tmp_path / "evil.pt"
    (_zip_container if container == "zip" else _legacy_container)(path, evil)
    with pytest.raises(UnsafeCheckpointError, match=EXPECTED_GLOBAL[payload].replace(".", r"\.")) as info:
        read_state_dict(path)
    assert "nothing was executed" in str(info.value)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("position", ["magic", "protocol", "sys_info", "keys"])
def test_payload_in_any_legacy_pickle_is_refused(tmp_path, position):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    _legacy_container(path, pickle.dumps(_Payload(os.system, f"touch {marker}"), protocol=2), position)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        read_state_dict(path)
    assert not marker.exists()


def test_refused_module_is_not_even_imported(tmp_path):
    # 'this' prints the Zen of Python on import: a module with an import-time side effect.
    assert "this" not in sys.modules
    path = tmp_path / "evil.pt"
    _zip_container(path, b"\x80\x02cthis\ns\n.")
    with pytest.raises(UnsafeCheckpointError, match="'this.s'"):
        read_state_dict(path)
    assert "this" not in sys.modules


def test_whole_pickled_module_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 3), path)
    with pytest.raises(UnsafeCheckpointError, match="torch.nn.modules.linear.Linear.*state_dict"):
        read_state_dict(path)


def test_out_of_bounds_tensor_view_is_refused(tmp_path):
    """A tensor claiming more elements than its storage holds must not read past the buffer."""
    path = tmp_path / "oob.pt"
    torch.save({"w": torch.ones(4)}, path)
    with zipfile.ZipFile(path) as original:
        members = {name: original.read(name) for name in original.namelist()}
    pkl = next(name for name in members if name.endswith("data.pkl"))
    data = members[pkl]
    # size (4,) -> (4000,): BININT1 4 followed by TUPLE1 becomes BININT2 4000
    assert b"K\x04\x85" in data
    members[pkl] = data.replace(b"K\x04\x85", b"M\xa0\x0f\x85", 1)
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    with pytest.raises(CheckpointFormatError, match="runs past the end of storage"):
        read_state_dict(path)


def _text(value: str) -> bytes:
    return b"X" + len(value).to_bytes(4, "little") + value.encode()


def test_setting_state_on_a_rebuilt_tensor_is_refused(tmp_path):
    """BUILD on a rebuilt tensor (to change its size after the checks) is refused."""
    path = tmp_path / "state.pt"
    torch.save({"w": torch.ones(4)}, path)
    with zipfile.ZipFile(path) as original:
        members = {name: original.read(name) for name in original.namelist()}
    pkl = next(name for name in members if name.endswith("data.pkl"))
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n((" + _text("storage") + b"ctorch\nFloatStorage\n"
              + _text("0") + _text("cpu") + b"K\x04tQK\x00K\x04\x85K\x01\x85\x89"
              + b"ccollections\nOrderedDict\n)RtR")
    build = b"}" + _text("size") + b"M\xa0\x0f\x85sb"  # {'size': (4000,)} then BUILD
    members[pkl] = b"\x80\x02}" + _text("w") + tensor + build + b"s."
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    with pytest.raises(UnsafeCheckpointError, match="set the state"):
        read_state_dict(path)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([_Payload(os.system, "true")], dtype=object))
    with pytest.raises(UnsafeCheckpointError, match="pickled objects"):
        read_state_dict(path)


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_numpy_object_array_inside_a_torch_file_is_refused(tmp_path, container):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"w": np.array([_Payload(os.system, f"touch {marker}")], dtype=object)}, protocol=2)
    path = tmp_path / "evil.pt"
    (_zip_container if container == "zip" else _legacy_container)(path, evil)
    with pytest.raises(UnsafeCheckpointError):
        read_state_dict(path)
    assert not marker.exists()
