"""Named public checkpoints (``ModelSpec`` entries), registered at import.

Every entry names a Hugging Face hub repo and file, its licence and paper, the preprocessing of its
timm ``pretrained_cfg`` (resize shorter side to ``int(224 / crop_pct)``, centre crop 224) and the
published top-1 accuracy where one exists (torchvision's documented numbers for ``tv_in1k`` /
``tv2_in1k`` weights, the DeiT and ConvNeXt papers' tables).

Revisions are ``main`` and ``sha256`` is None: the entries were written without network access, so no
commit hash or digest could be read off the hub. They are therefore locked on first use: the first
download records its sha256 in the lockfile (``alignjax.weights.verify``) and a changed file is refused
afterwards. Pin an entry for good with ``hf://...@<commit>`` or ``sha256=...``.

Every ImageNet entry here is in the paper's pool (``pools={'paper'}``); those Brain-Score's
``timm_models`` plugin registers carry its identifier (``brainscore_id``, the timm name with ':').

RobustBench's CIFAR-10 models (``robustbench/cifar10/<threat>/<name>``), Brain-Score's models under their
identifiers (``brainscore/<identifier>``) and the adversarially trained ImageNet models (robustness
library, RobustBench ImageNet) come from the files their projects publish; they are registered in
``alignjax.models.zoo_robustbench``, ``alignjax.models.zoo_brainscore`` and
``alignjax.models.zoo_robust_imagenet``.
"""

from __future__ import annotations

from alignjax.models.registry import (
    NO_QUIRKS,
    CheckpointQuirks,
    ModelSpec,
    Preprocessing,
    register_model,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

TIMM_FILE = "model.safetensors"
TIMM_VGG = CheckpointQuirks(layout="timm_vgg")


def timm_preprocessing(crop_pct: float, interpolation: str, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                       size: int = 224) -> Preprocessing:
    """timm's eval transform: resize the shorter side to ``int(size / crop_pct)``, centre crop ``size``."""
    return Preprocessing(resize=int(size / crop_pct), crop=size, interpolation=interpolation, mean=mean,
                         std=std)


def hub_source(repo: str, filename: str = TIMM_FILE, revision: str = "main") -> str:
    return f"hf://{repo}/{filename}@{revision}"


def timm_model(name: str, *, preprocessing: Preprocessing, accuracy: float | None, provenance: str,
               family: str, arch: str | None = None, training: str = "standard",
               quirks: CheckpointQuirks = NO_QUIRKS, brainscore_id: str | None = None,
               aliases: tuple[str, ...] = (), pools: frozenset[str] = frozenset({"paper"}),
               revision: str = "main", arch_kwargs: tuple[tuple[str, object], ...] = ()) -> ModelSpec:
    """A timm hub checkpoint ``timm/<arch>.<tag>`` (``model.safetensors``), registered under its timm name."""
    arch = arch or name.partition(".")[0]
    size = preprocessing.crop or 224
    return register_model(ModelSpec(
        name=name, arch=arch, source=hub_source(f"timm/{name}", revision=revision),
        input_shape=(size, size, 3), quirks=quirks, preprocessing=preprocessing, arch_kwargs=arch_kwargs,
        expected_clean_acc=accuracy, family=family, training=training, brainscore_id=brainscore_id,
        aliases=aliases, pools=pools,
        provenance=f"{provenance}; hub repo timm/{name} (revision {revision}"
                   + (", locked on first use)" if revision == "main" else ")"),
    ))


TV_LICENCE = "BSD-3-Clause (torchvision weights, mirrored by timm)"
TV_V1 = timm_preprocessing(0.875, "bilinear")
# torchvision's IMAGENET1K_V2 eval (resize 232, crop 224) = timm's test_input_size 224 / test_crop_pct 0.965.
TV_V2 = Preprocessing(resize=232, crop=224, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD)
# DeiT: timm's pretrained_cfg (crop_pct 0.9, resize 248), because the weights are timm's hub files and
# timm (`resolve_data_config`, validate.py) evaluates them so, which is what a cross-check against timm
# reproduces. The DeiT paper's accuracies (expected_clean_acc) come from facebookresearch/deit's own
# eval (facebookresearch/deit@012a100:datasets.py, `--eval-crop-ratio` 0.875, resize 256): expect
# clean accuracy to differ from them by a few tenths of a point.
DEIT = timm_preprocessing(0.9, "bicubic")
VIT_AUGREG = timm_preprocessing(0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD)
CONVNEXT = timm_preprocessing(0.875, "bicubic")
RSB = timm_preprocessing(0.95, "bicubic")

for _depth, _v1, _v2 in ((18, 69.758, None), (34, 73.314, None), (50, 76.130, 80.858),
                         (101, 77.374, 81.886), (152, 78.312, 82.284)):
    timm_model(f"resnet{_depth}.tv_in1k", preprocessing=TV_V1, accuracy=_v1, family="resnet",
               provenance=f"He et al. 2016, Deep Residual Learning; torchvision IMAGENET1K_V1; {TV_LICENCE}",
               aliases=(f"torchvision/resnet{_depth}",))
    if _v2 is not None:
        timm_model(f"resnet{_depth}.tv2_in1k", preprocessing=TV_V2, accuracy=_v2, family="resnet",
                   provenance=f"He et al. 2016, torchvision 'new recipe' IMAGENET1K_V2; {TV_LICENCE}")
timm_model("wide_resnet50_2.tv_in1k", preprocessing=TV_V1, accuracy=78.468, family="wide_resnet",
           provenance=f"Zagoruyko & Komodakis 2016, Wide Residual Networks; torchvision IMAGENET1K_V1; {TV_LICENCE}")
timm_model("wide_resnet50_2.tv2_in1k", preprocessing=TV_V2, accuracy=81.602, family="wide_resnet",
           provenance=f"Zagoruyko & Komodakis 2016; torchvision IMAGENET1K_V2; {TV_LICENCE}")
timm_model("vgg16.tv_in1k", preprocessing=TV_V1, accuracy=71.592, family="vgg", quirks=TIMM_VGG,
           provenance=f"Simonyan & Zisserman 2015, Very Deep Convolutional Networks; torchvision "
                      f"IMAGENET1K_V1; {TV_LICENCE}")
timm_model("vgg16_bn.tv_in1k", preprocessing=TV_V1, accuracy=73.360, family="vgg", quirks=TIMM_VGG,
           provenance=f"Simonyan & Zisserman 2015 (with BatchNorm); torchvision IMAGENET1K_V1; {TV_LICENCE}")
for _depth in (18, 50):
    timm_model(f"resnet{_depth}.a1_in1k", preprocessing=RSB, accuracy=None, family="resnet",
               provenance="Wightman et al. 2021, ResNet strikes back (recipe A1); timm; Apache-2.0")
timm_model("vit_small_patch16_224.augreg_in21k_ft_in1k", preprocessing=VIT_AUGREG, accuracy=None,
           family="vit", provenance="Steiner et al. 2021, How to train your ViT (AugReg), IN-21k pretrained, "
                                    "IN-1k fine-tuned; Apache-2.0")
timm_model("vit_base_patch16_224.augreg_in21k_ft_in1k", preprocessing=VIT_AUGREG, accuracy=None,
           family="vit", provenance="Steiner et al. 2021 (AugReg), IN-21k pretrained, IN-1k fine-tuned; Apache-2.0")
timm_model("vit_base_patch16_224.augreg2_in21k_ft_in1k", preprocessing=VIT_AUGREG, accuracy=None,
           family="vit", provenance="Steiner et al. 2021 (AugReg), IN-1k fine-tune re-done by R. Wightman "
                                    "(augreg2); Apache-2.0")
for _size, _label, _acc in (("tiny", "DeiT-Ti", 72.2), ("small", "DeiT-S", 79.8), ("base", "DeiT-B", 81.8)):
    timm_model(f"deit_{_size}_patch16_224.fb_in1k", preprocessing=DEIT, accuracy=_acc, family="deit",
               provenance=f"Touvron et al. 2021, Training data-efficient image transformers ({_label}); "
                          "Apache-2.0")
timm_model("deit_base_distilled_patch16_224.fb_in1k", preprocessing=DEIT, accuracy=83.4, family="deit",
           provenance="Touvron et al. 2021, DeiT-B distilled (RegNetY-16GF teacher); Apache-2.0")
for _size, _label, _acc in (("tiny", "T", 82.1), ("small", "S", 83.1), ("base", "B", 83.8)):
    timm_model(f"convnext_{_size}.fb_in1k", preprocessing=CONVNEXT, accuracy=_acc, family="convnext",
               provenance=f"Liu et al. 2022, A ConvNet for the 2020s (ConvNeXt-{_label}); Apache-2.0")
timm_model("convnext_base.fb_in22k_ft_in1k", preprocessing=CONVNEXT, accuracy=85.8, family="convnext",
           provenance="Liu et al. 2022, ConvNeXt-B, IN-22k pretrained, IN-1k fine-tuned at 224; Apache-2.0")

# Brain-Score's timm_models plugin (brain-score/vision@d07d356 brainscore_vision/models/timm_models:
# `timm.create_model(<name>, pretrained=True)`, identifier = timm name with ':' for '.'); preprocessing is
# each tag's pretrained_cfg (timm 1.0.31), as the plugin's `resolve_model_data_config` reads it. Left out:
# the tags whose cfg resizes to a square without a crop (crop_mode 'squash': vit_large_patch14_clip_336.*,
# convnext_large_mlp.clip_laion2b_augreg_ft_in1k_384), which `Preprocessing` does not express yet.
OPENAI_CLIP = {"mean": (0.48145466, 0.4578275, 0.40821073), "std": (0.26862954, 0.26130258, 0.27577711)}
CLIP_LICENCE = "Apache-2.0 (timm fine-tune); CLIP image tower: MIT (OpenAI) / MIT (OpenCLIP, LAION-2B)"


def brainscore_timm_model(name: str, *, crop_pct: float, size: int, clip: str | None, family: str,
                          provenance: str, arch_kwargs: tuple[tuple[str, object], ...] = (),
                          training: str = "standard") -> ModelSpec:
    """A timm checkpoint that Brain-Score registers under ``<arch>:<tag>``."""
    mean, std = (OPENAI_CLIP["mean"], OPENAI_CLIP["std"]) if clip == "openai" else (
        (INCEPTION_MEAN, INCEPTION_STD) if clip == "laion-inception" else (IMAGENET_MEAN, IMAGENET_STD))
    return timm_model(name, preprocessing=timm_preprocessing(crop_pct, "bicubic", mean, std, size=size),
                      accuracy=None, family=family, training=training, provenance=provenance,
                      brainscore_id=name.replace(".", ":"), arch_kwargs=arch_kwargs)


def _openai(arch_default_is_openai: bool) -> tuple[tuple[str, object], ...]:
    return () if arch_default_is_openai else (("mean", OPENAI_CLIP["mean"]), ("std", OPENAI_CLIP["std"]))


_CLIP_PAPER = "Radford et al. 2021, CLIP (OpenAI weights) / Cherti et al. 2023 (OpenCLIP LAION-2B)"
for _name, _crop, _size, _clip, _kwargs in (
        ("vit_base_patch16_clip_224.openai_ft_in1k", 0.9, 224, "openai", ()),
        ("vit_base_patch16_clip_224.openai_ft_in12k_in1k", 0.95, 224, "openai", ()),
        ("vit_large_patch14_clip_224.openai_ft_in1k", 1.0, 224, "openai", _openai(False)),
        ("vit_large_patch14_clip_224.openai_ft_in12k_in1k", 1.0, 224, "openai", _openai(False)),
        ("vit_large_patch14_clip_224.laion2b_ft_in1k", 1.0, 224, "laion-inception", ()),
        ("vit_large_patch14_clip_224.laion2b_ft_in12k_in1k", 1.0, 224, "laion-inception", ()),
        ("vit_huge_patch14_clip_224.laion2b_ft_in12k_in1k", 1.0, 224, "openai", ())):
    brainscore_timm_model(_name, crop_pct=_crop, size=_size, clip=_clip, family="vit", arch_kwargs=_kwargs,
                          training="language-supervised",
                          provenance=f"{_CLIP_PAPER}, image tower fine-tuned on ImageNet by timm; {CLIP_LICENCE}")
for _name, _crop, _size, _clip, _kwargs, _training, _what in (
        ("convnext_base.clip_laiona_augreg_ft_in1k_384", 1.0, 384, "openai", _openai(False),
         "language-supervised", "OpenCLIP LAION-Aesthetic ConvNeXt-B tower, fine-tuned at 384"),
        ("convnext_xxlarge.clip_laion2b_soup_ft_in1k", 1.0, 256, "openai", (), "language-supervised",
         "OpenCLIP LAION-2B ConvNeXt-XXL tower (soup), fine-tuned at 256"),
        ("convnext_large.fb_in22k_ft_in1k", 0.875, 224, None, (), "large-scale", "ConvNeXt-L, IN-22k pretrained"),
        ("convnext_xlarge.fb_in22k_ft_in1k", 0.875, 224, None, (), "large-scale",
         "ConvNeXt-XL, IN-22k pretrained"),
        ("convnext_tiny.in12k_ft_in1k", 0.95, 224, None, (), "large-scale",
         "ConvNeXt-T, IN-12k pretrained by timm")):
    brainscore_timm_model(_name, crop_pct=_crop, size=_size, clip=_clip, family="convnext", arch_kwargs=_kwargs,
                          training=_training,
                          provenance=f"Liu et al. 2022, A ConvNet for the 2020s: {_what}, IN-1k fine-tuned; "
                                     + (CLIP_LICENCE if _clip else "Apache-2.0"))
brainscore_timm_model("swin_small_patch4_window7_224.ms_in22k_ft_in1k", crop_pct=0.9, size=224, clip=None,
                      family="swin", training="large-scale",
                      provenance="Liu et al. 2021, Swin Transformer (Swin-S, IN-22k pretrained, IN-1k fine-tuned); "
                                 "microsoft/Swin-Transformer release mirrored by timm; MIT")

# More of each family with public ImageNet-1k checkpoints (timm's mirrors)
SWIN = timm_preprocessing(0.9, "bicubic")
for _name, _what in (("swin_tiny_patch4_window7_224.ms_in1k", "Swin-T"),
                     ("swin_small_patch4_window7_224.ms_in1k", "Swin-S"),
                     ("swin_base_patch4_window7_224.ms_in1k", "Swin-B"),
                     ("swin_base_patch4_window7_224.ms_in22k_ft_in1k", "Swin-B, IN-22k pretrained"),
                     ("swin_large_patch4_window7_224.ms_in22k_ft_in1k", "Swin-L, IN-22k pretrained")):
    timm_model(_name, preprocessing=SWIN, accuracy=None, family="swin",
               training="large-scale" if "in22k" in _name else "standard",
               provenance=f"Liu et al. 2021, Swin Transformer ({_what}); microsoft/Swin-Transformer release "
                          "mirrored by timm; MIT")
# BiT-M (ImageNet-21k pretrained, 1k fine-tuned at 448/480): model-vs-human's BiTM_resnetv2_* models
for _size, _input in (("50x1", 448), ("50x3", 448), ("101x1", 448), ("101x3", 448), ("152x2", 448),
                      ("152x4", 480)):
    timm_model(f"resnetv2_{_size}_bit.goog_in21k_ft_in1k",
               preprocessing=timm_preprocessing(1.0, "bilinear", INCEPTION_MEAN, INCEPTION_STD, size=_input),
               accuracy=None, family="bit", training="large-scale",
               aliases=(f"modelvshuman/BiTM_resnetv2_{_size}",),
               provenance=(f"Kolesnikov et al. 2020, Big Transfer (BiT-M-R{_size}); google-research/"
                           "big_transfer release mirrored by timm; Apache-2.0"))
for _name, _what in (("vit_base_patch32_224.augreg_in21k_ft_in1k", "ViT-B/32"),
                     ("vit_large_patch16_224.augreg_in21k_ft_in1k", "ViT-L/16")):
    timm_model(_name, preprocessing=VIT_AUGREG, accuracy=None, family="vit", training="large-scale",
               aliases=(f"modelvshuman/{_name.partition('.')[0]}",) if "large" in _name else (),
               provenance=f"Steiner et al. 2021 (AugReg) {_what}, IN-21k pretrained, IN-1k fine-tuned; Apache-2.0")

# AdvProp EfficientNets as timm publishes them (tf_efficientnet_bN.ap_in1k: the TF release converted by
# timm; pretrained_cfg: native size, crop_pct, bicubic, mean = std = 0.5)
for _variant, _size, _crop in (("b0", 224, 0.875), ("b1", 240, 0.882), ("b2", 260, 0.890), ("b3", 300, 0.904),
                               ("b4", 380, 0.922), ("b5", 456, 0.934), ("b6", 528, 0.942), ("b7", 600, 0.949)):
    timm_model(f"tf_efficientnet_{_variant}.ap_in1k",
               preprocessing=timm_preprocessing(_crop, "bicubic", INCEPTION_MEAN, INCEPTION_STD, size=_size),
               accuracy=None, family="efficientnet", training="adversarial",
               arch_kwargs=(("mean", INCEPTION_MEAN), ("std", INCEPTION_STD)),
               provenance=(f"Xie et al. 2020, Adversarial Examples Improve Image Recognition (AdvProp), "
                           f"EfficientNet-{_variant.upper()}; TF release converted by timm; Apache-2.0"))

register_model(ModelSpec(
    name="digits_cnn",
    arch="small_cnn",
    num_classes=10,
    input_shape=(8, 8, 1),
    source="bundled:digits_cnn.safetensors",
    quirks=CheckpointQuirks(layout="flax"),
    expected_clean_acc=99.24,
    family="small_cnn",
    training="adversarial",
    provenance=("alignjax's embedded default: small CNN adversarially trained (PGD-7, Linf 0.1) on "
                "scikit-learn's 8x8 digits (UCI Optical Recognition of Handwritten Digits, CC-BY-4.0) by "
                "scripts/train_digits_cnn.py; MIT; weights/digits_cnn.json holds the recipe"),
))
