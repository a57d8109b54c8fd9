"""RobustBench CIFAR-10 Linf / L2 models whose architectures the zoo has, registered at import.

Each entry is named ``robustbench/cifar10/<threat model>/<RobustBench name>`` and carries:

- the checkpoint RobustBench itself downloads: its Google Drive file id in
  ``RobustBench/robustbench@78fcc9e:robustbench/model_zoo/cifar10.py`` (``linf`` / ``l2``), as the
  URL ``https://drive.google.com/uc?export=download&id=<id>`` (``alignjax.weights.download`` follows
  Drive's confirm page). No sha256 is known: the files were not downloadable where this was written;
  pin one with ``sha256=`` once a file has been fetched and checked against the expected accuracy;
- the architecture and input normalisation of RobustBench's model constructor in that file:
  ``WideResNet(depth, widen_factor)`` without normalisation -> ``wrn_*``; ``DMWideResNet(...,
  activation_fn=Swish or nn.SiLU, mean=CIFAR10_MEAN, std=CIFAR10_STD)`` -> ``dm_wrn_*`` (SiLU is Swish);
  ``Wong2020FastNet`` (``PreActResNet(PreActBlock, [2, 2, 2, 2])`` after CIFAR-10 mean/std with
  std (0.2471, 0.2435, 0.2616)) -> ``preact_resnet18``; ``ResNet18`` -> ``cifar_resnet18``;
- the checkpoint surgery of RobustBench's ``utils.load_model`` at the same commit: weights under
  ``'state_dict'`` when present (the reader's automatic selection), ``module.`` (DataParallel) and
  ``model.`` prefixes removed, and, for the models built with ``sub_block1=True``, the unused
  ``sub_block1.*`` weights dropped (that block is constructed but never called in ``forward``);
- the published clean and AutoAttack robust accuracies of
  ``RobustBench/robustbench@78fcc9e:model_info/cifar10/<threat>/<name>.json`` (``clean_acc``,
  ``autoattack_acc``, ``eps``), the values a full 10,000-image evaluation should reproduce.

Weights are MIT-licensed (RobustBench's LICENSE) except Gowal2020Uncovering*, Rebuffi2021Fixing* and
Gowal2021Improving* (Apache-2.0, Copyright 2021 Google), as that LICENSE lists.
"""

from __future__ import annotations

from alignjax.eps import parse_eps
from alignjax.models.registry import (
    CheckpointQuirks,
    ModelSpec,
    Preprocessing,
    RobustAccuracy,
    register_model,
)

ROBUSTBENCH_COMMIT = "RobustBench/robustbench@78fcc9e"
DRIVE_URL = "https://drive.google.com/uc?export=download&id="
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)
# robustbench.utils.load_model's surgery as data: wrapper prefixes off, and for the models built with
# sub_block1=True the unused block's weights dropped
WRAPPERS = CheckpointQuirks(strip_prefixes=("module.", "model."))
WRAPPERS_WITHOUT_SUB_BLOCK1 = CheckpointQuirks(strip_prefixes=("module.", "model."), drop=(r"^(module\.|model\.)*sub_block1\.",))

# Models RobustBench builds with WideResNet(..., sub_block1=True).
SUB_BLOCK1 = frozenset({"Carmon2019Unlabeled", "Sehwag2020Hydra", "Wang2020Improving", "Zhang2019Theoretically"})
APACHE_GOOGLE = ("Gowal2020Uncovering", "Rebuffi2021Fixing", "Gowal2021Improving")

# (threat model, RobustBench name, arch, Google Drive id, clean %, AutoAttack %, eps as published)
ENTRIES: tuple[tuple[str, str, str, str, float, float, str], ...] = (
    ("Linf", "Standard", "wrn_28_10", "1t98aEuzeTL8P7Kpd5DIrCoCL21BNZUhC", 94.78, 0.0, "8/255"),
    ("Linf", "Carmon2019Unlabeled", "wrn_28_10", "15tUx-gkZMYx7BfEOw1GY5OKC-jECIsPQ", 89.69, 59.53, "8/255"),
    ("Linf", "Sehwag2020Hydra", "wrn_28_10", "1pi8GHwAVkxVH41hEnf0IAJb_7y-Q8a2Y", 88.98, 57.14, "8/255"),
    ("Linf", "Wang2020Improving", "wrn_28_10", "1T939mU4kXYt5bbvM55aT4fLBvRhyzjiQ", 87.50, 56.29, "8/255"),
    ("Linf", "Zhang2019Theoretically", "wrn_34_10", "1hPz9QQwyM7QSuWu-ANG_uXR-29xtL8t_", 84.92, 53.08,
     "0.031"),
    ("Linf", "Wong2020Fast", "preact_resnet18", "1Re--_lf3jCEw9bnQqGkjw3J7v2tSZKrv", 83.34, 43.21, "8/255"),
    ("Linf", "Sehwag2021Proxy", "wrn_34_10", "1QFA5fPMj2Qw4aYNG33PkFqiv_RTDWvzm", 86.68, 60.27, "8/255"),
    ("Linf", "Sehwag2021Proxy_R18", "cifar_resnet18", "1-ZgoSlD_AMhtXdnUElilxVXnzK2DcHuu", 84.59, 55.54,
     "8/255"),
    ("Linf", "Addepalli2022Efficient_RN18", "cifar_resnet18", "1m5vhdzIUUKhDbsZdOG9z76Eyp6f4xe_f", 85.71,
     52.48, "8/255"),
    ("Linf", "Addepalli2022Efficient_WRN_34_10", "wrn_34_10", "1--dVDtZhAk4D2zMtTDwIGnImuCGxTcBA", 88.71,
     57.81, "8/255"),
    ("Linf", "Jia2022LAS-AT_70_16", "wrn_70_16", "1-4p-Gr0hjl8wq6qvvTza4x4a5Rmu-Bfr", 85.66, 57.61, "8/255"),
    ("Linf", "Gowal2020Uncovering_28_10_extra", "dm_wrn_28_10", "1MBAWGxiZxKt-GfqEqtLcXcd3tAxPhvV2", 89.48,
     62.80, "8/255"),
    ("Linf", "Gowal2020Uncovering_70_16", "dm_wrn_70_16", "1DVwKclibqzniE2Ss5_g6BY77ChG8QKzl", 85.29, 57.20,
     "8/255"),
    ("Linf", "Gowal2020Uncovering_70_16_extra", "dm_wrn_70_16", "1GxryYj_Or-VCDca0wgiFLz4ssXSZXQoJ", 91.10,
     65.88, "8/255"),
    ("Linf", "Rebuffi2021Fixing_28_10_cutmix_ddpm", "dm_wrn_28_10", "1-0EChXbc6pOvx26O17av263bCeqIAz6s",
     87.33, 60.75, "8/255"),
    ("Linf", "Rebuffi2021Fixing_70_16_cutmix_ddpm", "dm_wrn_70_16", "1-8CWRT-OFWyrz4T4s0I2mbFjPg8K_MUi",
     88.54, 64.25, "8/255"),
    ("Linf", "Rebuffi2021Fixing_70_16_cutmix_extra", "dm_wrn_70_16", "1qKDTp6IJ1BUXZaRtbYuo_t0tuDl_4mLg",
     92.23, 66.58, "8/255"),
    ("Linf", "Gowal2021Improving_28_10_ddpm_100m", "dm_wrn_28_10", "12L8YE6VBgUDKyW6GMSNefSYj2gg4LEKx",
     87.50, 63.44, "8/255"),
    ("Linf", "Gowal2021Improving_70_16_ddpm_100m", "dm_wrn_70_16", "10qBoDG_NomJBrRFeTsSwEcJF1GA-sjC4",
     88.74, 66.11, "8/255"),
    ("Linf", "Pang2022Robustness_WRN28_10", "dm_wrn_28_10", "16ChNkterCp17BXv-xxqpfedb4u2_CjjS", 88.61,
     61.04, "8/255"),
    ("Linf", "Pang2022Robustness_WRN70_16", "dm_wrn_70_16", "1uQZYUuUiL9BzaQUeXLhjr_RhoyFRrHe3", 89.01,
     63.35, "8/255"),
    ("Linf", "Wang2023Better_WRN-28-10", "dm_wrn_28_10", "1-6MYKJdECDVGaWjj6GgqvaT95BGKhUvI", 92.44, 67.31,
     "8/255"),
    ("Linf", "Wang2023Better_WRN-70-16", "dm_wrn_70_16", "1-RF7ZSS-PAh6bfQcuqx4lh9bc9BUGnap", 93.25, 70.69,
     "8/255"),
    ("L2", "Standard", "wrn_28_10", "1t98aEuzeTL8P7Kpd5DIrCoCL21BNZUhC", 94.78, 0.0, "0.5"),
    ("L2", "Sehwag2021Proxy", "wrn_34_10", "1UviikNzpltVFsgMuqQ8YhpmvGczGRS4S", 90.93, 77.24, "0.5"),
    ("L2", "Sehwag2021Proxy_R18", "cifar_resnet18", "1zPjjZj9wujBNkAmHHHIikem6_aIjMhXG", 89.76, 74.41, "0.5"),
    ("L2", "Gowal2020Uncovering", "dm_wrn_70_16", "1QL4SNvYydjIg1uI3VP9SyNt-2kTXRisG", 90.90, 74.50, "0.5"),
    ("L2", "Gowal2020Uncovering_extra", "dm_wrn_70_16", "1pkZDCpCBShpAnx92n8PUeNOY1fSiTi0s", 94.74, 80.53,
     "0.5"),
    ("L2", "Rebuffi2021Fixing_28_10_cutmix_ddpm", "dm_wrn_28_10", "1-DUKcvfDzeWwt0NK7q2XvU-dIi8up8B0", 91.79,
     78.80, "0.5"),
    ("L2", "Rebuffi2021Fixing_70_16_cutmix_ddpm", "dm_wrn_70_16", "1-8ECIOYF4JB0ywxJOmhkefnv4TW-KuXp", 92.41,
     80.42, "0.5"),
    ("L2", "Rebuffi2021Fixing_70_16_cutmix_extra", "dm_wrn_70_16", "1JX82BDVBNO-Ffa2J37EuB8C-aFCbz708", 95.74,
     82.32, "0.5"),
    ("L2", "Wang2023Better_WRN-28-10", "dm_wrn_28_10", "1-fwKiJXEqHHUngt8wKsNnHuD4vAPvPXC", 95.16, 83.68,
     "0.5"),
    ("L2", "Wang2023Better_WRN-70-16", "dm_wrn_70_16", "101UyURyte05tJLA9VFRBN6UDLyn-0sJw", 95.54, 84.97,
     "0.5"),
)

# Paper of each entry, keyed by the name up to its first '_' (model_info's "name" and "venue").
PAPERS = {
    "Standard": "standardly trained WideResNet-28-10 of RobustBench (no adversarial training)",
    "Carmon2019Unlabeled": "Carmon et al., Unlabeled Data Improves Adversarial Robustness (NeurIPS 2019)",
    "Sehwag2020Hydra": "Sehwag et al., HYDRA: Pruning Adversarially Robust Neural Networks (NeurIPS 2020)",
    "Wang2020Improving": ("Wang et al., Improving Adversarial Robustness Requires Revisiting Misclassified "
                          "Examples (ICLR 2020)"),
    "Zhang2019Theoretically": ("Zhang et al., Theoretically Principled Trade-off between Robustness and "
                               "Accuracy (TRADES, ICML 2019)"),
    "Wong2020Fast": "Wong, Rice & Kolter, Fast is better than free: Revisiting adversarial training (ICLR 2020)",
    "Sehwag2021Proxy": ("Sehwag et al., Robust Learning Meets Generative Models: Can Proxy Distributions "
                        "Improve Adversarial Robustness? (ICLR 2022)"),
    "Addepalli2022Efficient": ("Addepalli et al., Efficient and Effective Augmentation Strategy for "
                               "Adversarial Training (NeurIPS 2022)"),
    "Jia2022LAS-AT": "Jia et al., LAS-AT: Adversarial Training with Learnable Attack Strategy (CVPR 2022)",
    "Gowal2020Uncovering": ("Gowal et al., Uncovering the Limits of Adversarial Training against "
                            "Norm-Bounded Adversarial Examples (arXiv 2010.03593)"),
    "Rebuffi2021Fixing": ("Rebuffi et al., Fixing Data Augmentation to Improve Adversarial Robustness "
                          "(arXiv 2103.01946)"),
    "Gowal2021Improving": "Gowal et al., Improving Robustness using Generated Data (NeurIPS 2021)",
    "Pang2022Robustness": ("Pang et al., Robustness and Accuracy Could Be Reconcilable by (Proper) "
                           "Definition (ICML 2022)"),
    "Wang2023Better": ("Wang et al., Better Diffusion Models Further Improve Adversarial Training "
                       "(ICML 2023)"),
}


def _normalisation(arch: str, name: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if arch.startswith("dm_wrn") or name == "Wong2020Fast":
        return CIFAR10_MEAN, CIFAR10_STD
    return None


def robustbench_spec(threat: str, name: str, arch: str, drive_id: str, clean: float, robust: float,
                     eps_text: str) -> ModelSpec:
    """The ``ModelSpec`` of one RobustBench CIFAR-10 entry (see the module docstring)."""
    normalisation = _normalisation(arch, name)
    arch_kwargs: tuple[tuple[str, object], ...] = ()
    preprocessing = Preprocessing()
    if normalisation is not None:
        mean, std = normalisation
        preprocessing = Preprocessing(mean=mean, std=std)
        arch_kwargs = (("mean", mean), ("std", std))  # explicit, though DMWideResNet's default agrees
    paper = PAPERS[name.split("_")[0]]
    licence = ("Apache-2.0, Copyright 2021 Google" if name.startswith(APACHE_GOOGLE) else "MIT (RobustBench)")
    return ModelSpec(
        name=f"robustbench/cifar10/{threat}/{name}",
        arch=arch,
        num_classes=10,
        input_shape=(32, 32, 3),
        source=DRIVE_URL + drive_id,
        quirks=WRAPPERS_WITHOUT_SUB_BLOCK1 if name in SUB_BLOCK1 else WRAPPERS,
        family="wide_resnet" if "wrn" in arch else arch.removeprefix("cifar_").rstrip("0123456789"),
        training="standard" if name == "Standard" else "adversarial",
        preprocessing=preprocessing,
        arch_kwargs=arch_kwargs,
        expected_clean_acc=clean,
        expected_robust_acc=RobustAccuracy(threat, parse_eps(eps_text), eps_text, robust),
        provenance=(f"{paper}; RobustBench CIFAR-10 {threat} entry {name!r} "
                    f"({ROBUSTBENCH_COMMIT}:robustbench/model_zoo/cifar10.py, Google Drive id {drive_id}; "
                    f"accuracies from model_info/cifar10/{threat}/{name}.json); weights licence {licence}"),
    )


for _entry in ENTRIES:
    register_model(robustbench_spec(*_entry))
