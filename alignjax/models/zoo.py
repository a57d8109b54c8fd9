"""Named public checkpoints (``ModelSpec`` entries), registered at import.

Every entry names a Hugging Face hub repo and file, its licence and paper, the preprocessing of its
timm ``pretrained_cfg`` (resize shorter side to ``int(224 / crop_pct)``, centre crop 224) and the
published top-1 accuracy where one exists (torchvision's documented numbers for ``tv_in1k`` /
``tv2_in1k`` weights, the DeiT and ConvNeXt papers' tables).

Revisions are ``main`` and ``sha256`` is None: the entries were written without network access, so no
commit hash or digest could be read off the hub. Pin both (``hf://...@<commit>``, ``sha256=...``) once
a file has been downloaded and checked; ``alignjax.weights.hub.sha256_file`` prints the digest.

Adversarially trained ImageNet checkpoints (Salman et al. 2020, Singh et al. 2023) are not listed:
their official hosts are not the hub, and no hub mirror with known file names could be verified.

RobustBench's CIFAR-10 models (``robustbench/cifar10/<threat>/<name>``) and Brain-Score's reference
models (``brainscore/<identifier>``) come from the files their projects publish; they are registered in
``alignjax.models.zoo_robustbench`` and ``alignjax.models.zoo_brainscore``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alignjax.models.registry import ModelSpec, Preprocessing, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

TIMM_FILE = "model.safetensors"


def _timm_preprocessing(crop_pct: float, interpolation: str, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                        size: int = 224) -> Preprocessing:
    return Preprocessing(resize=int(size / crop_pct), crop=size, interpolation=interpolation, mean=mean,
                         std=std)


def _family(arch: str):
    """The architecture's family converter, looked up when called (key maps register lazily)."""

    def convert(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from alignjax.weights.keymaps import get_converter

        return get_converter(arch)(state_dict)

    convert.__name__ = f"convert_{arch}"
    return convert


def timm_vgg_to_torchvision(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """timm's VGG stores torchvision's classifier as convolutions; undo timm's ``vgg._filter_fn``.

    ``pre_logits.fc1`` (4096, 512, 7, 7) -> ``classifier.0`` (4096, 25088), ``pre_logits.fc2``
    (4096, 4096, 1, 1) -> ``classifier.3``, ``head.fc`` -> ``classifier.6``. The (c, h, w) flatten order
    of the conv kernel equals torchvision's flatten of the NCHW feature map.
    """
    renames = {"pre_logits.fc1.": "classifier.0.", "pre_logits.fc2.": "classifier.3.",
               "head.fc.": "classifier.6."}
    out: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        for old, new in renames.items():
            if name.startswith(old):
                name = new + name[len(old):]
                if name.endswith(".weight"):
                    value = value.reshape(value.shape[0], -1)
                break
        out[name] = value
    return out


def _timm_vgg(arch: str):
    family = _family(arch)

    def convert(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return family(timm_vgg_to_torchvision(state_dict))

    convert.__name__ = f"convert_timm_{arch}"
    return convert


def _hub(repo: str, filename: str = TIMM_FILE, revision: str = "main") -> str:
    return f"hf://{repo}/{filename}@{revision}"


TV_LICENCE = "BSD-3-Clause (torchvision weights, mirrored by timm)"
TV_V1 = _timm_preprocessing(0.875, "bilinear")
# torchvision's IMAGENET1K_V2 eval (resize 232, crop 224) = timm's test_input_size 224 / test_crop_pct 0.965.
TV_V2 = Preprocessing(resize=232, crop=224, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD)
# DeiT: timm's pretrained_cfg (crop_pct 0.9, resize 248), because the weights are timm's hub files and
# timm (`resolve_data_config`, validate.py) evaluates them so, which is what a cross-check against timm
# reproduces. The DeiT paper's accuracies (expected_clean_acc) come from facebookresearch/deit's own
# eval (facebookresearch/deit@012a100:datasets.py, `--eval-crop-ratio` 0.875, resize 256): expect
# clean accuracy to differ from them by a few tenths of a point.
DEIT = _timm_preprocessing(0.9, "bicubic")

# (name, arch, hub repo, preprocessing, top-1 %, provenance)
_IMAGENET: tuple[tuple[str, str, str, Preprocessing, float | None, str], ...] = (
    ("resnet18.tv_in1k", "resnet18", "timm/resnet18.tv_in1k", TV_V1, 69.758,
     f"He et al. 2016, Deep Residual Learning; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet34.tv_in1k", "resnet34", "timm/resnet34.tv_in1k", TV_V1, 73.314,
     f"He et al. 2016; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet50.tv_in1k", "resnet50", "timm/resnet50.tv_in1k", TV_V1, 76.130,
     f"He et al. 2016; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet101.tv_in1k", "resnet101", "timm/resnet101.tv_in1k", TV_V1, 77.374,
     f"He et al. 2016; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet152.tv_in1k", "resnet152", "timm/resnet152.tv_in1k", TV_V1, 78.312,
     f"He et al. 2016; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet50.tv2_in1k", "resnet50", "timm/resnet50.tv2_in1k", TV_V2, 80.858,
     f"He et al. 2016, torchvision 'new recipe' IMAGENET1K_V2; {TV_LICENCE}"),
    ("resnet101.tv2_in1k", "resnet101", "timm/resnet101.tv2_in1k", TV_V2, 81.886,
     f"He et al. 2016, torchvision IMAGENET1K_V2; {TV_LICENCE}"),
    ("resnet152.tv2_in1k", "resnet152", "timm/resnet152.tv2_in1k", TV_V2, 82.284,
     f"He et al. 2016, torchvision IMAGENET1K_V2; {TV_LICENCE}"),
    ("wide_resnet50_2.tv_in1k", "wide_resnet50_2", "timm/wide_resnet50_2.tv_in1k", TV_V1, 78.468,
     f"Zagoruyko & Komodakis 2016, Wide Residual Networks; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("wide_resnet50_2.tv2_in1k", "wide_resnet50_2", "timm/wide_resnet50_2.tv2_in1k", TV_V2, 81.602,
     f"Zagoruyko & Komodakis 2016; torchvision IMAGENET1K_V2; {TV_LICENCE}"),
    ("vgg16.tv_in1k", "vgg16", "timm/vgg16.tv_in1k", TV_V1, 71.592,
     f"Simonyan & Zisserman 2015, Very Deep Convolutional Networks; torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("vgg16_bn.tv_in1k", "vgg16_bn", "timm/vgg16_bn.tv_in1k", TV_V1, 73.360,
     f"Simonyan & Zisserman 2015 (with BatchNorm); torchvision IMAGENET1K_V1; {TV_LICENCE}"),
    ("resnet18.a1_in1k", "resnet18", "timm/resnet18.a1_in1k", _timm_preprocessing(0.95, "bicubic"), None,
     "Wightman et al. 2021, ResNet strikes back (recipe A1); timm; Apache-2.0"),
    ("resnet50.a1_in1k", "resnet50", "timm/resnet50.a1_in1k", _timm_preprocessing(0.95, "bicubic"), None,
     "Wightman et al. 2021, ResNet strikes back (recipe A1); timm; Apache-2.0"),
    ("vit_small_patch16_224.augreg_in21k_ft_in1k", "vit_small_patch16_224",
     "timm/vit_small_patch16_224.augreg_in21k_ft_in1k",
     _timm_preprocessing(0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD), None,
     "Steiner et al. 2021, How to train your ViT (AugReg), IN-21k pretrained, IN-1k fine-tuned; Apache-2.0"),
    ("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit_base_patch16_224",
     "timm/vit_base_patch16_224.augreg_in21k_ft_in1k",
     _timm_preprocessing(0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD), None,
     "Steiner et al. 2021 (AugReg), IN-21k pretrained, IN-1k fine-tuned; Apache-2.0"),
    ("vit_base_patch16_224.augreg2_in21k_ft_in1k", "vit_base_patch16_224",
     "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k",
     _timm_preprocessing(0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD), None,
     "Steiner et al. 2021 (AugReg), IN-1k fine-tune re-done by R. Wightman (augreg2); Apache-2.0"),
    ("deit_tiny_patch16_224.fb_in1k", "deit_tiny_patch16_224", "timm/deit_tiny_patch16_224.fb_in1k",
     DEIT, 72.2,
     "Touvron et al. 2021, Training data-efficient image transformers (DeiT-Ti); Apache-2.0"),
    ("deit_small_patch16_224.fb_in1k", "deit_small_patch16_224", "timm/deit_small_patch16_224.fb_in1k",
     DEIT, 79.8,
     "Touvron et al. 2021, DeiT-S; Apache-2.0"),
    ("deit_base_patch16_224.fb_in1k", "deit_base_patch16_224", "timm/deit_base_patch16_224.fb_in1k",
     DEIT, 81.8,
     "Touvron et al. 2021, DeiT-B; Apache-2.0"),
    ("deit_base_distilled_patch16_224.fb_in1k", "deit_base_distilled_patch16_224",
     "timm/deit_base_distilled_patch16_224.fb_in1k", DEIT, 83.4,
     "Touvron et al. 2021, DeiT-B distilled (RegNetY-16GF teacher); Apache-2.0"),
    ("convnext_tiny.fb_in1k", "convnext_tiny", "timm/convnext_tiny.fb_in1k",
     _timm_preprocessing(0.875, "bicubic"), 82.1,
     "Liu et al. 2022, A ConvNet for the 2020s (ConvNeXt-T); Apache-2.0"),
    ("convnext_small.fb_in1k", "convnext_small", "timm/convnext_small.fb_in1k",
     _timm_preprocessing(0.875, "bicubic"), 83.1,
     "Liu et al. 2022, ConvNeXt-S; Apache-2.0"),
    ("convnext_base.fb_in1k", "convnext_base", "timm/convnext_base.fb_in1k",
     _timm_preprocessing(0.875, "bicubic"), 83.8,
     "Liu et al. 2022, ConvNeXt-B; Apache-2.0"),
    ("convnext_base.fb_in22k_ft_in1k", "convnext_base", "timm/convnext_base.fb_in22k_ft_in1k",
     _timm_preprocessing(0.875, "bicubic"), 85.8,
     "Liu et al. 2022, ConvNeXt-B, IN-22k pretrained, IN-1k fine-tuned at 224; Apache-2.0"),
)


def _convert_for(arch: str):
    return _timm_vgg(arch) if arch.startswith("vgg") else _family(arch)


for _name, _arch, _repo, _prep, _acc, _provenance in _IMAGENET:
    register_model(ModelSpec(
        name=_name,
        arch=_arch,
        num_classes=1000,
        input_shape=(224, 224, 3),
        source=_hub(_repo),
        convert=_convert_for(_arch),
        sha256=None,
        preprocessing=_prep,
        expected_clean_acc=_acc,
        provenance=f"{_provenance}; hub repo {_repo} (revision main, not pinned)",
    ))


def _flax_ready(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The bundled file already holds '/'-joined Flax variables."""
    return {name: np.asarray(value, dtype=np.float32) for name, value in state_dict.items()}


register_model(ModelSpec(
    name="digits_cnn",
    arch="small_cnn",
    num_classes=10,
    input_shape=(8, 8, 1),
    source="bundled:digits_cnn.safetensors",
    convert=_flax_ready,
    preprocessing=Preprocessing(),
    expected_clean_acc=99.24,
    provenance=("alignjax's embedded default: small CNN adversarially trained (PGD-7, Linf 0.1) on "
                "scikit-learn's 8x8 digits (UCI Optical Recognition of Handwritten Digits, CC-BY-4.0) by "
                "scripts/train_digits_cnn.py; MIT; weights/digits_cnn.json holds the recipe"),
))
