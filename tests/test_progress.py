"""Progress off a terminal (plain lines, no carriage returns) and on one (bars), for `alignjax attack` and
`alignjax sweep`, and the names of a repeated attack (issue 26)."""

from __future__ import annotations

import io
import json
import re

import pytest

from alignjax import progress as progress_module
from alignjax.cli import main
from alignjax.errors import InputError
from alignjax.progress import INTERVAL_VARIABLE, PROGRESS_INTERVAL_SECONDS, CascadeProgress, progress_interval
from alignjax.sweep.progress import Progress
from tests.compile_cache import cheap_compiles

REPEATED = ["attack", "--n", "20", "--version", "custom", "--attacks", "apgd-ce,apgd-ce", "--n-iter", "2",
            "--n-restarts", "1", "--batch-size", "8", "--no-checks"]
SWEEP = """
name = "progress"
seeds = [0]
versions = ["tiny"]

[[models]]
name = "digits_cnn"

[[datasets]]
name = "digits-test"
kind = "digits"
n = 12

[[threats]]
norm = "Linf"
eps = [0.1]

[version.tiny]
attacks = [
  { attack = "apgd-ce", n_iter = 2, n_restarts = 1 },
  { attack = "apgd-ce", n_iter = 2, n_restarts = 1 },
]
"""
LINE = re.compile(r"^(?P<head>.+?) \| (?P<done>\d+)/(?P<total>\d+) points \| robust so far [\d.]+% "
                  r"\| elapsed \d+:\d\d \| ETA (--|\d+:\d\d)$")


@pytest.fixture(scope="module", autouse=True)
def _compile_once(tmp_path_factory):
    """The CLI runs here compile the same tiny programs: compile them once, without optimisations."""
    with cheap_compiles(tmp_path_factory.mktemp("xla"), disable_optimizations=True):
        yield


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_attack_off_a_terminal_writes_plain_lines_and_one_name_per_attack(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")  # a periodic line after every batch
    assert main([*REPEATED, "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "0%|" not in captured.err
    lines = _lines(captured.err)
    assert lines and all(LINE.match(line) for line in lines), captured.err
    heads = [LINE.match(line)["head"] for line in lines]
    for name in ("apgd-ce", "apgd-ce#2"):
        assert heads[0 if name == "apgd-ce" else heads.index("apgd-ce#2: start")] == f"{name}: start"
        assert heads.count(f"{name}: done") == 1
    assert "apgd-ce" in heads  # a periodic line between start and end (interval 0, batches of 8 of 19)
    # the header, the result lines and summary.json name the attacks alike
    header = re.search(r"AutoAttack custom: (.+?) \|", captured.out)[1].split(", ")
    after = re.findall(r"robust accuracy after (\S+):", captured.out)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert header == after == ["apgd-ce", "apgd-ce#2"]
    assert "APGD-CE" not in captured.out
    assert [a["name"] for a in summary["attacks"]] == header


def test_attack_on_a_terminal_keeps_the_bars(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "wants_bar", lambda stream: True)
    assert main([*REPEATED, "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "\r" in err and "apgd-ce#2" in err and "pt/s" in err
    assert not any(LINE.match(line) for line in err.splitlines())


def test_lines_come_at_start_end_and_at_most_once_per_interval(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    report = CascadeProgress(stream, interval=30.0)  # a StringIO is not a terminal
    for now, done in ((0, 0), (10, 10), (31, 20), (40, 30), (50, 40)):
        clock[0] = 100.0 + now
        report("square", done, 40, 50.0)
    assert stream.getvalue().splitlines() == [
        "square: start | 0/40 points | robust so far 50.00% | elapsed 0:00 | ETA --",
        "square | 20/40 points | robust so far 50.00% | elapsed 0:31 | ETA 0:31",
        "square: done | 40/40 points | robust so far 50.00% | elapsed 0:50 | ETA 0:00",
    ]


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(INTERVAL_VARIABLE, raising=False)
    assert progress_interval() == PROGRESS_INTERVAL_SECONDS == 30.0
    monkeypatch.setenv(INTERVAL_VARIABLE, "2.5")
    assert progress_interval() == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(INTERVAL_VARIABLE, bad)
        with pytest.raises(InputError, match=INTERVAL_VARIABLE):
            progress_interval()


def test_sweep_off_a_terminal_writes_plain_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(INTERVAL_VARIABLE, "0")
    (tmp_path / "tiny.toml").write_text(SWEEP)  # one unit: two attacks on 12 digits
    config, store = tmp_path / "tiny.toml", tmp_path / "store"
    assert main(["sweep", str(config), "--store", str(store), "--batch-size", "8", "--no-checks"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "0%|" not in err
    lines = _lines(err)
    assert lines and all(LINE.match(line) for line in lines), err
    heads = [LINE.match(line)["head"] for line in lines]
    prefix = "units 0/1 | digits_cnn Linf 0.1 tiny | "
    assert heads[0] == prefix + "apgd-ce: start" and heads[-1] == prefix + "apgd-ce#2: done"
    assert prefix + "apgd-ce" in heads  # periodic
    assert LINE.match(lines[-1])["done"] == LINE.match(lines[-1])["total"] == "12"


@pytest.mark.parametrize("terminal", [True, False])
def test_the_sweep_chooses_bar_or_lines_where_the_attack_does(monkeypatch, terminal):
    monkeypatch.setattr(progress_module, "wants_bar", lambda stream: terminal)
    sweep = Progress(units_total=1, points_total=10, stream=io.StringIO(), line_interval=0)
    attack = CascadeProgress(io.StringIO(), interval=0)
    assert (sweep.bar is not None) == (sweep.lines is None) == (attack.lines is None) == terminal
    sweep.close()
