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

import dataclasses

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
WRAPPERS_WITHOUT_SUB_BLOCK1 = CheckpointQuirks(strip_prefixes=("module.", "model."),
                                               drop=(r"^(module\.|model\.)*sub_block1\.",))

# the models RobustBench builds with WideResNet(..., sub_block1=True) carry WRAPPERS_WITHOUT_SUB_BLOCK1
APACHE_GOOGLE = ("Gowal2020Uncovering", "Rebuffi2021Fixing", "Gowal2021Improving")

@dataclasses.dataclass(frozen=True, kw_only=True)
class RobustBenchEntry:
    """One RobustBench CIFAR-10 model as published: threat model, name, architecture, Google Drive id,
    clean and AutoAttack accuracy (percent), eps as written in model_info, and its checkpoint quirks."""

    threat: str
    name: str
    arch: str
    drive_id: str
    clean: float
    robust: float
    eps_text: str
    quirks: CheckpointQuirks = WRAPPERS


ENTRIES: tuple[RobustBenchEntry, ...] = (
    RobustBenchEntry(threat="Linf", name="Standard", arch="wrn_28_10", drive_id="1t98aEuzeTL8P7Kpd5DIrCoCL21BNZUhC", clean=94.78,
                     robust=0.0, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Carmon2019Unlabeled", arch="wrn_28_10", drive_id="15tUx-gkZMYx7BfEOw1GY5OKC-jECIsPQ", clean=89.69,
                     robust=59.53, eps_text="8/255", quirks=WRAPPERS_WITHOUT_SUB_BLOCK1),
    RobustBenchEntry(threat="Linf", name="Sehwag2020Hydra", arch="wrn_28_10", drive_id="1pi8GHwAVkxVH41hEnf0IAJb_7y-Q8a2Y", clean=88.98,
                     robust=57.14, eps_text="8/255", quirks=WRAPPERS_WITHOUT_SUB_BLOCK1),
    RobustBenchEntry(threat="Linf", name="Wang2020Improving", arch="wrn_28_10", drive_id="1T939mU4kXYt5bbvM55aT4fLBvRhyzjiQ", clean=87.5,
                     robust=56.29, eps_text="8/255", quirks=WRAPPERS_WITHOUT_SUB_BLOCK1),
    RobustBenchEntry(threat="Linf", name="Zhang2019Theoretically", arch="wrn_34_10", drive_id="1hPz9QQwyM7QSuWu-ANG_uXR-29xtL8t_", clean=84.92,
                     robust=53.08, eps_text="0.031", quirks=WRAPPERS_WITHOUT_SUB_BLOCK1),
    RobustBenchEntry(threat="Linf", name="Wong2020Fast", arch="preact_resnet18", drive_id="1Re--_lf3jCEw9bnQqGkjw3J7v2tSZKrv", clean=83.34,
                     robust=43.21, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Sehwag2021Proxy", arch="wrn_34_10", drive_id="1QFA5fPMj2Qw4aYNG33PkFqiv_RTDWvzm", clean=86.68,
                     robust=60.27, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Sehwag2021Proxy_R18", arch="cifar_resnet18", drive_id="1-ZgoSlD_AMhtXdnUElilxVXnzK2DcHuu", clean=84.59,
                     robust=55.54, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Addepalli2022Efficient_RN18", arch="cifar_resnet18", drive_id="1m5vhdzIUUKhDbsZdOG9z76Eyp6f4xe_f", clean=85.71,
                     robust=52.48, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Addepalli2022Efficient_WRN_34_10", arch="wrn_34_10", drive_id="1--dVDtZhAk4D2zMtTDwIGnImuCGxTcBA", clean=88.71,
                     robust=57.81, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Jia2022LAS-AT_70_16", arch="wrn_70_16", drive_id="1-4p-Gr0hjl8wq6qvvTza4x4a5Rmu-Bfr", clean=85.66,
                     robust=57.61, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Gowal2020Uncovering_28_10_extra", arch="dm_wrn_28_10", drive_id="1MBAWGxiZxKt-GfqEqtLcXcd3tAxPhvV2", clean=89.48,
                     robust=62.8, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Gowal2020Uncovering_70_16", arch="dm_wrn_70_16", drive_id="1DVwKclibqzniE2Ss5_g6BY77ChG8QKzl", clean=85.29,
                     robust=57.2, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Gowal2020Uncovering_70_16_extra", arch="dm_wrn_70_16", drive_id="1GxryYj_Or-VCDca0wgiFLz4ssXSZXQoJ", clean=91.1,
                     robust=65.88, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Rebuffi2021Fixing_28_10_cutmix_ddpm", arch="dm_wrn_28_10", drive_id="1-0EChXbc6pOvx26O17av263bCeqIAz6s", clean=87.33,
                     robust=60.75, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Rebuffi2021Fixing_70_16_cutmix_ddpm", arch="dm_wrn_70_16", drive_id="1-8CWRT-OFWyrz4T4s0I2mbFjPg8K_MUi", clean=88.54,
                     robust=64.25, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Rebuffi2021Fixing_70_16_cutmix_extra", arch="dm_wrn_70_16", drive_id="1qKDTp6IJ1BUXZaRtbYuo_t0tuDl_4mLg", clean=92.23,
                     robust=66.58, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Gowal2021Improving_28_10_ddpm_100m", arch="dm_wrn_28_10", drive_id="12L8YE6VBgUDKyW6GMSNefSYj2gg4LEKx", clean=87.5,
                     robust=63.44, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Gowal2021Improving_70_16_ddpm_100m", arch="dm_wrn_70_16", drive_id="10qBoDG_NomJBrRFeTsSwEcJF1GA-sjC4", clean=88.74,
                     robust=66.11, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Pang2022Robustness_WRN28_10", arch="dm_wrn_28_10", drive_id="16ChNkterCp17BXv-xxqpfedb4u2_CjjS", clean=88.61,
                     robust=61.04, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Pang2022Robustness_WRN70_16", arch="dm_wrn_70_16", drive_id="1uQZYUuUiL9BzaQUeXLhjr_RhoyFRrHe3", clean=89.01,
                     robust=63.35, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Wang2023Better_WRN-28-10", arch="dm_wrn_28_10", drive_id="1-6MYKJdECDVGaWjj6GgqvaT95BGKhUvI", clean=92.44,
                     robust=67.31, eps_text="8/255"),
    RobustBenchEntry(threat="Linf", name="Wang2023Better_WRN-70-16", arch="dm_wrn_70_16", drive_id="1-RF7ZSS-PAh6bfQcuqx4lh9bc9BUGnap", clean=93.25,
                     robust=70.69, eps_text="8/255"),
    RobustBenchEntry(threat="L2", name="Standard", arch="wrn_28_10", drive_id="1t98aEuzeTL8P7Kpd5DIrCoCL21BNZUhC", clean=94.78,
                     robust=0.0, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Sehwag2021Proxy", arch="wrn_34_10", drive_id="1UviikNzpltVFsgMuqQ8YhpmvGczGRS4S", clean=90.93,
                     robust=77.24, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Sehwag2021Proxy_R18", arch="cifar_resnet18", drive_id="1zPjjZj9wujBNkAmHHHIikem6_aIjMhXG", clean=89.76,
                     robust=74.41, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Gowal2020Uncovering", arch="dm_wrn_70_16", drive_id="1QL4SNvYydjIg1uI3VP9SyNt-2kTXRisG", clean=90.9,
                     robust=74.5, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Gowal2020Uncovering_extra", arch="dm_wrn_70_16", drive_id="1pkZDCpCBShpAnx92n8PUeNOY1fSiTi0s", clean=94.74,
                     robust=80.53, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Rebuffi2021Fixing_28_10_cutmix_ddpm", arch="dm_wrn_28_10", drive_id="1-DUKcvfDzeWwt0NK7q2XvU-dIi8up8B0", clean=91.79,
                     robust=78.8, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Rebuffi2021Fixing_70_16_cutmix_ddpm", arch="dm_wrn_70_16", drive_id="1-8ECIOYF4JB0ywxJOmhkefnv4TW-KuXp", clean=92.41,
                     robust=80.42, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Rebuffi2021Fixing_70_16_cutmix_extra", arch="dm_wrn_70_16", drive_id="1JX82BDVBNO-Ffa2J37EuB8C-aFCbz708", clean=95.74,
                     robust=82.32, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Wang2023Better_WRN-28-10", arch="dm_wrn_28_10", drive_id="1-fwKiJXEqHHUngt8wKsNnHuD4vAPvPXC", clean=95.16,
                     robust=83.68, eps_text="0.5"),
    RobustBenchEntry(threat="L2", name="Wang2023Better_WRN-70-16", arch="dm_wrn_70_16", drive_id="101UyURyte05tJLA9VFRBN6UDLyn-0sJw", clean=95.54,
                     robust=84.97, eps_text="0.5"),
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


def robustbench_spec(entry: RobustBenchEntry) -> ModelSpec:
    """The ``ModelSpec`` of one RobustBench CIFAR-10 entry (see the module docstring)."""
    threat, name, arch, drive_id = entry.threat, entry.name, entry.arch, entry.drive_id
    clean, robust, eps_text = entry.clean, entry.robust, entry.eps_text
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
        quirks=entry.quirks,
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
    register_model(robustbench_spec(_entry))
