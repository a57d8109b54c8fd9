"""Writes tests/fixtures/analysis/: a synthetic Brain-Score leaderboard export and robustness table.

Synthetic, seeded numbers in the real formats: ``leaderboard.csv`` is the site's server-side export
(``model_name,layers,<benchmark identifiers>``, "X" for missing, ceiled scores printed as ".412"),
with a lab-prefixed identifier and a few missing cells; ``robustness.csv`` is the long robustness
format at the paper's three eps plus clean accuracy, where robust accuracy depends on two benchmarks
(V1-texture_modulation and Geirhos2021cueconflict-error_consistency) so the report has something to
find; ``aliases.csv`` reconciles two spellings. One model exists only on each side.
Usage: python scripts/make_analysis_fixture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "analysis"
MODELS = ["alexnet", "vgg_16", "vgg_19", "resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152",
          "densenet-121", "densenet-169", "inception_v3", "mobilenet_v2_1.0_224", "efficientnet-b0",
          "efficientnet-b4", "convnext_tiny", "convnext_base", "deit_small", "deit_base", "swin_small",
          "CORnet-S", "voneresnet-50", "voneresnet-50-robust", "resnet50_robust_l2_eps3", "resnet-50-robust",
          "resnet50-SIN", "resnet50-SIN_IN", "resnext101_32x8d_wsl", "BiT-S-R50x1", "regnet_y_400mf",
          "shufflenet_v2"]
LEAVES = {
    "V1": ["FreemanZiemba2013.V1-pls", "Marques2020_FreemanZiemba2013-texture_modulation_index",
           "Marques2020_FreemanZiemba2013-abs_texture_modulation_index", "Marques2020_Ringach2002-or_bandwidth"],
    "V2": ["FreemanZiemba2013.V2-pls"],
    "V4": ["dicarlo.MajajHong2015.V4-pls"],
    "IT": ["MajajHong2015.IT-pls", "Kar2019-ost"],
    "behavior_vision": ["Rajalingham2018-i2n", "Geirhos2021cueconflict-error_consistency",
                        "Geirhos2021edge-error_consistency", "Baker2022frankenstein-accuracy_delta"],
    "engineering_vision": ["ImageNet-top1", "Geirhos2021cueconflict-top1", "Hermann2020cueconflict-shape_bias"],
}


def main() -> None:
    rng = np.random.default_rng(20250217)
    n = len(MODELS)
    robust_trained = np.array([("robust" in m) or ("SIN" in m) for m in MODELS], dtype=float)
    leaf = {name: np.clip(rng.normal(0.35, 0.08, n), 0.02, 0.95) for names in LEAVES.values() for name in names}
    leaf["Marques2020_FreemanZiemba2013-texture_modulation_index"] += 0.25 * robust_trained
    leaf["Geirhos2021cueconflict-error_consistency"] += 0.2 * robust_trained + rng.normal(0, 0.02, n)
    leaf["Hermann2020cueconflict-shape_bias"] = np.clip(0.2 + 0.4 * robust_trained + rng.normal(0, 0.05, n), 0, 1)
    leaf["ImageNet-top1"] = np.clip(0.76 - 0.12 * robust_trained + rng.normal(0, 0.03, n), 0.5, 0.9)
    leaf["Kar2019-ost"][:] = np.nan  # feedforward models get no OST score (the paper drops this leaf)
    leaf["FreemanZiemba2013.V2-pls"][rng.choice(n, 4, replace=False)] = np.nan
    region = {r: np.nanmean([np.nan_to_num(leaf[b]) for b in LEAVES[r]], axis=0) for r in ("V1", "V2", "V4", "IT")}
    neural = np.mean([region[r] for r in region], axis=0)
    behavior = np.mean([leaf[b] for b in LEAVES["behavior_vision"]], axis=0)
    engineering = np.mean([leaf[b] for b in LEAVES["engineering_vision"]], axis=0)
    columns = {"average_vision": (neural + behavior) / 2, "neural_vision": neural, **{r: region[r] for r in region},
               "behavior_vision": behavior, "engineering_vision": engineering, **leaf}
    text = lambda v: "X" if not np.isfinite(v) else (f"{v:.3f}".lstrip("0") if v < 1 else f"{v:.1f}")
    lines = ["model_name,layers," + ",".join(columns)]
    for i, model in enumerate(MODELS[:-1]):  # the last model has robustness only
        lines.append(f"{model},," + ",".join(text(columns[c][i]) for c in columns))
    lines.append("hmax,," + ",".join("X" for _ in columns))  # scores only (and all missing)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "leaderboard.csv").write_text("\n".join(lines) + "\n")

    clean = 100 * leaf["ImageNet-top1"] + rng.normal(0, 1.0, n)
    strength = 2.0 * robust_trained + 4 * (leaf["Marques2020_FreemanZiemba2013-texture_modulation_index"] - 0.35) \
        + 3 * (leaf["Geirhos2021cueconflict-error_consistency"] - 0.35)
    names = [m.replace("resnet-", "ResNet") if m in ("resnet-18", "resnet-34") else m for m in MODELS]
    rows = []
    for eps in (0.001, 0.5 / 255, 1 / 255):
        scale = eps * 255
        robust = clean / (1 + np.exp(-(strength * 1.5 - 1.2 * scale - 0.5 + rng.normal(0, 0.3, n))))
        rows += [{"model": names[i], "dataset": "imagenet-val", "norm": "Linf", "eps": eps, "version": "paper",
                  "n": 1000, "clean_accuracy": round(float(clean[i]), 2), "robust_accuracy": round(float(robust[i]), 2)}
                 for i in range(n)]
    pl.DataFrame(rows).write_csv(OUT / "robustness.csv")
    (OUT / "aliases.csv").write_text("alias,model\nResNet18,resnet-18\nResNet34,resnet-34\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
