"""The command line as a user meets it: help, version, argument checks, provenance, resume binding, locks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from alignjax.attacks.engine.state import CascadeState
from alignjax.cli import SIGPIPE_EXIT, main
from alignjax.data.digits import digits_split
from alignjax.files import FolderLock
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir

EMBEDDED = bundled_weights_dir() / EMBEDDED_WEIGHTS
TWICE = "apgd-ce(n_iter=2,n_restarts=1),apgd-ce(n_iter=2,n_restarts=1)"
CHEAP = ["--version", "custom", "--attacks", TWICE, "--no-checks", "--no-progress"]


def _digits(tmp_path, n=12):
    test = digits_split("test")
    path = tmp_path / "d.npz"
    np.savez(path, x=test.x[:n], y=test.y[:n])
    return path


def test_version_and_a_help_written_for_users(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "alignjax 0.1.0"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "Thin:" not in text and "``" not in text  # not the module's developer docstring
    assert "AutoAttack" in text and "alignjax attack --arch" in text and "convert" in text


def test_convert_help_documents_its_arguments_and_the_architecture_names(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # as read, whatever the terminal width
    for expected in ("--num-classes", "read off the checkpoint", "--input-shape", "--arch-option", "--key",
                     "cifar_resnet18 (32x32x3)", "resnet50 (224x224x3)", "small_cnn (8x8x1)", "examples:"):
        assert expected in text, expected


def test_models_json_into_a_closed_pipe_ends_quietly():
    """`alignjax models --json | head` ended in a BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen([sys.executable, "-m", "alignjax.cli", "models", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as process:
        process.stdout.close()  # the reader is gone before anything is written
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == SIGPIPE_EXIT
    assert stderr == "", stderr


CONVERT = ["convert", "x.pt", "--arch", "resnet18", "--out", "o.safetensors"]


@pytest.mark.parametrize("argv, message", [
    ([*CONVERT, "--num-classes", "0"], "must be >= 1"),
    ([*CONVERT, "--num-classes", "-1"], "must be >= 1"),
    ([*CONVERT, "--input-shape", "0,0,0"], "HEIGHT,WIDTH,CHANNELS of positive"),
    (["attack", "--seed", "1e23"], "expected a whole number from 0 to 4294967295"),
    (["attack", "--seed", "4294967296"], "jax keeps 32 bits"),
    (["attack", "--batch-size", "0"], "must be >= 1"),
    (["attack", "--checkpoint-seconds", "-1"], "finite number >= 0"),
])
def test_bad_numbers_are_refused_by_the_parser(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--out", str(tmp_path / "out")] if argv[0] == "attack" else argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # --batch-size 0 used to leave an empty --out


@pytest.mark.parametrize("argv, message", [
    (["attack", "--num-classes", "5"], "--num-classes applies to --arch only; the embedded digits model"),
    (["attack", "--arch-option", "width=3"], "--arch-option applies to --arch only"),
    (["attack", "--attacks", "apgd-ce"], "--attacks needs --version custom"),
    (["attack", "--version", "custom", "--attacks", "apgd-ce(n_iter=0)"], "n_iter must be an int >= 1"),
    (["attack", "--version", "custom", "--attacks", "apgd-ce(steps=3)"], "apgd-ce has no setting steps"),
    (["convert", str(EMBEDDED), "--arch", "resnet9000", "--out", "o.safetensors"], "unknown architecture"),
])
def test_options_a_model_would_ignore_are_refused(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)] if argv[0] == "attack" else argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_manifest_records_the_real_n_hashes_and_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = _digits(tmp_path, 40)
    argv = ["attack", "--arch", "small_cnn", "--weights", str(EMBEDDED), "--data", str(data), "--eps", "0.1",
            "--n", "10", *CHEAP]
    assert main(argv) == 0
    (out,) = (tmp_path / "alignjax-runs").iterdir()  # a unique default folder: attack-<time>-<random>
    assert out.name.startswith("attack-") and len(out.name.split("-")[-1]) == 6
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert manifest["n"] == 10 == summary["n"]
    assert manifest["weights_file_sha256"] == hashlib.sha256(EMBEDDED.read_bytes()).hexdigest()
    assert manifest["data_file_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert len(manifest["weights_content_sha256"]) == 64 and len(manifest["data_content_sha256"]) == 64
    assert manifest["command_line"].startswith("alignjax attack --arch small_cnn") and "--n 10" in \
        manifest["command_line"]
    # the same attack twice is two entries
    assert list(summary["robust_accuracy_after"]) == ["clean", "apgd-ce", "apgd-ce#2"]
    assert "carries no alignjax record" in capsys.readouterr().out


def test_an_interrupted_run_cannot_be_resumed_with_other_weights(tmp_path, capsys):
    """Issue 9 item 1, as reported: the second run continued the first one's state with another model."""
    weights = tmp_path / "w.safetensors"
    shutil.copy(EMBEDDED, weights)
    out = tmp_path / "R"
    argv = ["attack", "--arch", "small_cnn", "--weights", str(weights), "--data", str(_digits(tmp_path)),
            "--eps", "0.1", *CHEAP, "--out", str(out)]
    original = CascadeState.save

    def crash_after_the_first_attack(self, folder, identity):
        original(self, folder, identity)
        if self.attack_index == 1:
            raise KeyboardInterrupt

    CascadeState.save = crash_after_the_first_attack
    try:
        with pytest.raises(KeyboardInterrupt):
            main(argv)
    finally:
        CascadeState.save = original
    arrays = load_file(str(weights))
    save_file({k: v * np.float32(1.5) for k, v in arrays.items()}, str(weights))  # other weights, same file
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "different evaluation" in err and "weights_sha256" in err and "--overwrite" in err
    save_file(arrays, str(weights))
    assert main(argv) == 0
    assert "resuming from" in capsys.readouterr().out


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_it(tmp_path, capsys):
    out = tmp_path / "R"
    out.mkdir()
    with FolderLock(out):
        assert main(["attack", *CHEAP, "--n", "4", "--out", str(out)]) == 2
    assert f"in use by another alignjax run (process {os.getpid()})" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
