"""``alignjax crosscheck`` end to end: agreement on the embedded model and (``-m slow``) on pyautoattack's
real CIFAR-10 ResNet-18 (reduced budgets, a few dozen points), and a deliberately broken setting caught
by the gate."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from alignjax.cli import main
from alignjax.crosscheck.report import POINT_SCHEMA
from tests.conftest import REPO_ROOT
from tests.crosscheck.natural_images import natural_images

ATTACK_NAMES = {"apgd-ce", "apgd-t", "fab-t", "square"}


def _read(out: Path) -> tuple[dict, pl.DataFrame]:
    summary = json.loads((out / "summary.json").read_text())
    points = pl.read_parquet(out / "points.parquet")
    assert points.schema == POINT_SCHEMA
    assert (out / "summary.txt").read_text().startswith("model: ")
    return summary, points


def _consistent(summary: dict, points: pl.DataFrame) -> None:
    """The summary's numbers are the parquet's, and every break is attributed to a real attack."""
    for side in ("alignjax", "reference"):
        assert summary[side]["robust_accuracy"] == pytest.approx(points[f"{side}_robust"].mean() * 100)
        assert summary[side]["clean_accuracy"] == pytest.approx(points[f"{side}_clean_correct"].mean() * 100)
        broken_by = points[f"{side}_broken_by"]
        assert set(broken_by.unique()) <= ATTACK_NAMES | {"", "clean"}
        assert ((broken_by == "") == points[f"{side}_robust"]).all()
        after = summary[side]["robust_accuracy_after"]
        cascade = ["apgd-ce", "apgd-t", "fab-t", "square"]
        assert list(after) == ["clean", *cascade]
        for position, name in enumerate(cascade):  # cumulative: clean errors + breaks up to this attack
            broken = points.filter(pl.col(f"{side}_broken_by").is_in(["clean", *cascade[: position + 1]]))
            assert after[name] == pytest.approx(100 * (1 - broken.height / points.height))
    paired = summary["paired"]
    disagree = points.filter(~pl.col("agree"))
    assert paired["only_alignjax_broke"] + paired["only_reference_broke"] == disagree.height


def test_embedded_model_agrees_with_the_reference(tmp_path, capsys):
    out = tmp_path / "embedded"
    argv = ["crosscheck", "--n", "48", "--eps", "0.15", "--n-iter", "10", "--n-target-classes", "3",
            "--n-queries", "100", "--batch-size", "48", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "verdict: AGREE" in printed and "native model: DigitsCNN" in printed and "REDUCED" in printed
    summary, points = _read(out)
    assert summary["agrees"] and summary["reasons"] == [] and summary["reduced"]
    assert summary["reference"]["kind"] == "native"
    assert summary["reference"]["clean_prediction_mismatches"] == 0
    assert summary["reference"]["max_clean_logit_difference"] < 1e-4
    assert points.height == 48 and points["agree"].mean() >= 0.9
    assert abs(summary["paired"]["difference_pp"]) <= 1.0 or summary["paired"]["p_value"] >= 0.01
    assert 30 < summary["alignjax"]["robust_accuracy"] < 90  # the attacks do break points
    _consistent(summary, points)


def test_a_different_eps_on_one_side_is_caught(tmp_path):
    """The reference at eps 0.3 (alignjax at 0.1), through the torch<->JAX bridge: exit 1, McNemar fires."""
    out = tmp_path / "broken"
    argv = ["crosscheck", "--n", "48", "--version", "custom", "--attacks", "apgd-ce", "--n-iter", "10",
            "--n-restarts", "1", "--reference", "bridge", "--reference-eps", "0.3", "--batch-size", "48",
            "--out", str(out), "--quiet"]
    assert main(argv) == 1
    summary, points = _read(out)
    assert not summary["agrees"] and summary["reference_eps"] == 0.3 and summary["eps"] == 0.1
    assert summary["reference"]["kind"] == "bridge"
    assert summary["reference"]["clean_prediction_mismatches"] == 0  # same model: only the radius differs
    assert any("McNemar" in reason for reason in summary["reasons"])
    assert summary["paired"]["p_value"] < 1e-4 and summary["paired"]["difference_pp"] > 20
    assert points.filter(~pl.col("agree"))["reference_broken_by"].unique().to_list() == ["apgd-ce"]


def _pyautoattack_resnet18() -> Path:
    spec = importlib.util.find_spec("pyautoattack")
    assert spec is not None and spec.origin is not None, "install the test extra: pip install -e '.[test]'"
    return Path(spec.origin).parent / "examples" / "model_test.pt"


@pytest.mark.slow
def test_real_cifar_resnet18_agrees_with_the_reference(tmp_path, capsys):
    """pyautoattack's own CIFAR-10 ResNet-18 on 24 natural 32x32 images, labelled by the model itself.
    With ``-m slow`` (140 CPU-seconds): by default the same model and the same reference are compared
    per point through ``alignjax attack`` (``tests/attacks/test_real_cifar_resnet18.py``), and
    ``crosscheck`` runs on the embedded model above."""
    from pyautoattack.examples.resnet import ResNet18

    weights = _pyautoattack_resnet18()
    model = ResNet18().eval()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    x = natural_images(24)
    with torch.no_grad():
        y = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).argmax(1).numpy()
    data = tmp_path / "natural.npz"
    np.savez(data, x=x, y=y)
    out = tmp_path / "resnet18"
    argv = ["crosscheck", "--arch", "cifar_resnet18", "--weights", str(weights), "--data", str(data),
            "--eps", str(0.5 / 255), "--n-iter", "5", "--n-target-classes", "1", "--n-queries", "20",
            "--batch-size", "24", "--out", str(out), "--quiet"]
    assert main(argv) == 0, capsys.readouterr().out
    summary, points = _read(out)
    assert summary["reference"]["kind"] == "native" and "examples.resnet.ResNet18" in summary["reference"]["model"]
    assert summary["alignjax"]["clean_accuracy"] == summary["reference"]["clean_accuracy"] == 100.0
    assert summary["reference"]["max_clean_logit_difference"] < 1e-4  # the conversion is checked too
    assert 0 < summary["alignjax"]["robust_accuracy"] < 100 and points["agree"].mean() >= 0.9
    _consistent(summary, points)


WITHOUT_TORCH = textwrap.dedent("""
    import sys

    from alignjax.cli import main

    code = main(sys.argv[1:])
    assert not any(m.split(".")[0] in ("torch", "pyautoattack") for m in sys.modules), "torch was imported"
    sys.exit(code)
""")
MISSING = ("torch", "functorch", "pyautoattack", "timm", "torchvision")  # distributions absent without the extra


def _site_without_the_extra(folder: Path) -> Path:
    """A copy (by symlinks) of this environment's site-packages without torch and pyautoattack."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    folder.mkdir()
    for entry in site.iterdir():
        if entry.name.split("-")[0].split(".")[0].lower() not in MISSING:
            (folder / entry.name).symlink_to(entry)
    return folder


def test_without_the_extra_a_published_figure_is_still_checked(tmp_path):
    """No torch: the reference is skipped with a note, a published figure gates alone; without one: exit 2."""
    cheap = ["crosscheck", "--n", "40", "--version", "custom", "--attacks", "apgd-ce", "--n-iter", "5",
             "--n-restarts", "1", "--batch-size", "40", "--quiet"]
    site = _site_without_the_extra(tmp_path / "site-packages")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-S", "-c", WITHOUT_TORCH, *cheap, *argv], check=False,
                              capture_output=True,
                              text=True, timeout=600, cwd=REPO_ROOT,
                              env={"PYTHONPATH": f"{REPO_ROOT}:{site}", "PATH": "", "HF_HUB_OFFLINE": "1",
                                   "ALIGNJAX_COMPILATION_CACHE": "0"})

    missing = run("--out", str(tmp_path / "none"))
    assert missing.returncode == 2 and "pip install 'alignjax[crosscheck]'" in missing.stderr
    out = tmp_path / "published"
    result = run("--published", "20", "--published-clean", "97.5", "--out", str(out))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "reference skipped" in result.stdout and "INCONSISTENT" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    robust, clean = summary["published"]
    assert robust["what"] == "robust" and not robust["agrees"]
    assert robust["clopper_pearson"][0] <= robust["measured"] <= robust["clopper_pearson"][1]
    assert clean["what"] == "clean" and clean["agrees"] and summary["reference"] is None
    points = pl.read_parquet(out / "points.parquet")
    assert points.schema == POINT_SCHEMA and points["reference_robust"].null_count() == 40


def test_published_figures_from_the_registry():
    from argparse import Namespace

    from alignjax.commands.crosscheck import _published
    from alignjax.errors import InputError
    from alignjax.models import get_model_spec

    spec = get_model_spec("robustbench/cifar10/Linf/Carmon2019Unlabeled")
    args = Namespace(published="registry", published_clean=None)
    published = _published(args, spec, "Linf", 8 / 255)
    assert (published.robust, published.clean) == (59.53, 89.69) and "RobustBench" in published.source
    with pytest.raises(InputError, match="--norm Linf --eps 8/255"):
        _published(args, spec, "L2", 0.5)
    with pytest.raises(InputError, match="needs --model"):
        _published(args, None, "Linf", 8 / 255)


def test_help_states_the_rule(capsys):
    with pytest.raises(SystemExit):
        main(["crosscheck", "--help"])
    text = capsys.readouterr().out
    assert "McNemar" in text and "Clopper-Pearson" in text and "exit status: 0" in text


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
def test_full_standard_autoattack_on_the_embedded_model_agrees(tmp_path, norm):
    """The command's default: all 397 test digits, standard AutoAttack at full budgets, both sides."""
    out = tmp_path / norm
    assert main(["crosscheck", "--norm", norm, "--out", str(out), "--quiet"]) == 0
    summary, points = _read(out)
    assert summary["n"] == 397 and not summary["reduced"] and summary["agrees"]
    assert summary["reference"]["clean_prediction_mismatches"] == 0
    assert points["agree"].mean() >= 0.98
    _consistent(summary, points)
