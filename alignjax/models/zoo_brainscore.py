"""Brain-Score's reference models from their public release files, registered at import.

Named ``brainscore/<Brain-Score identifier>``; each loads the file its Brain-Score plugin (or the
model's own package, which the plugin calls) downloads:

- ``alexnet``: ``brain-score/vision:brainscore_vision/models/alexnet/model.py`` calls
  ``torchvision.models.alexnet(pretrained=True)``, i.e. ``IMAGENET1K_V1`` =
  https://download.pytorch.org/models/alexnet-owt-7be5be79.pth (torchvision 0.28.0
  ``models/alexnet.py``); a plain state dict; published top-1 56.522 % (torchvision's weight metadata).
- ``CORnet-Z`` / ``CORnet-S``: ``dicarlolab/CORnet@d0cc17d:cornet/__init__.py`` loads
  ``https://s3.amazonaws.com/cornet-models/cornet_{z,s}-<HASH>.pth`` (``HASH`` in ``cornet_z.py`` /
  ``cornet_s.py``) with ``torch.utils.model_zoo.load_url``; the checkpoint is ``{'epoch', 'arch',
  'state_dict', 'optimizer'}`` saved from ``nn.DataParallel`` (``module.`` prefixes). Brain-Score's
  current CORnet-S plugin reads ``cornet_s_epoch43.pth.tar`` (sha1 a4bfd8ed...) from its own S3 bucket
  instead; whether it is the same file as the public release could not be checked offline.
- ``voneresnet-50``: ``brain-score/vision:brainscore_vision/models/voneresnet-50/model.py`` calls
  ``vonenet.get_model('resnet50')``, which downloads
  https://vonenet-models.s3.us-east-2.amazonaws.com/voneresnet50_e70.pth.tar
  (``dicarlolab/vonenet@3c3a0b2:vonenet/__init__.py``): ``{'flags', 'state_dict'}`` with ``module.``
  prefixes. The entry builds the deterministic model (noise off, ``alignjax.models.vonenet``); the
  stochastic one Brain-Score scores is ``build_architecture('voneresnet50', noise_mode='neuronal')``
  called through ``alignjax.models.stochastic.StochasticLogitsFn``.

The file names of alexnet and CORnet follow the torch-hub convention ``<name>-<sha256 prefix>.pth``;
the downloader verifies that prefix (``alignjax.weights.download.hash_prefix_from_name``). No full
sha256 is pinned (no network where this was written). ImageNet accuracy is evaluated with the
preprocessing below (the torchvision / CORnet ``run.py`` / vonenet ``train.py`` validation transform:
resize 256, centre crop 224); Brain-Score's own benchmarks instead resize stimuli to 224x224
(``alignjax.data.preprocessing.brainscore_transform(224)``). VOneNets normalise with mean = std = 0.5.
"""

from __future__ import annotations

from alignjax.models.registry import DATA_PARALLEL, CheckpointQuirks, ModelSpec, Preprocessing, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VONENET_MEAN = VONENET_STD = (0.5, 0.5, 0.5)


def imagenet_eval(mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> Preprocessing:
    """The torchvision validation transform: resize 256, centre crop 224, bilinear."""
    return Preprocessing(resize=256, crop=224, interpolation="bilinear", mean=mean, std=std)


def brainscore_model(identifier: str, **fields) -> ModelSpec:
    """Registers ``brainscore/<identifier>`` (a Brain-Score registry id) in the paper's pool."""
    pools = fields.pop("pools", frozenset()) | {"paper"}
    return register_model(ModelSpec(name=f"brainscore/{identifier}", brainscore_id=identifier, pools=pools,
                                    **fields))


def torchvision_model(arch: str, identifier: str | None, **fields) -> ModelSpec:
    """Registers torchvision's ``arch`` in the paper's pool: as ``brainscore/<identifier>`` with the alias
    ``torchvision/<arch>`` where Brain-Score has a plugin for it, else as ``torchvision/<arch>``."""
    if identifier is not None:
        return brainscore_model(identifier, arch=arch, aliases=(f"torchvision/{arch}",), **fields)
    return register_model(ModelSpec(name=f"torchvision/{arch}", arch=arch, pools=frozenset({"paper"}), **fields))


brainscore_model(
    "alexnet", arch="alexnet", family="alexnet",
    source="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    preprocessing=imagenet_eval(), expected_clean_acc=56.522, aliases=("torchvision/alexnet",),
    provenance=("Krizhevsky et al. 2012 (torchvision's one-weird-trick AlexNet, IMAGENET1K_V1); Brain-Score "
                "plugin brainscore_vision/models/alexnet; BSD-3-Clause (torchvision)"))
for _variant, _hash, _note in (
        ("z", "5c427c9c", ""),
        ("s", "1d3f7974", "; Brain-Score's plugin reads cornet_s_epoch43.pth.tar from its S3 bucket")):
    brainscore_model(
        f"CORnet-{_variant.upper()}", arch=f"cornet_{_variant}", family="cornet", training="brain-inspired",
        source=f"https://s3.amazonaws.com/cornet-models/cornet_{_variant}-{_hash}.pth", quirks=DATA_PARALLEL,
        preprocessing=imagenet_eval(),
        provenance=("Kubilius, Schrimpf et al. 2019, Brain-Like Object Recognition with High-Performing Shallow "
                    "Recurrent ANNs (NeurIPS); release file of dicarlolab/CORnet@d0cc17d (README, "
                    f"cornet/cornet_{_variant}.py HASH){_note}; GPL-3.0 (CORnet)"))
brainscore_model(
    "voneresnet-50", arch="voneresnet50", family="vonenet", training="brain-inspired",
    source="https://vonenet-models.s3.us-east-2.amazonaws.com/voneresnet50_e70.pth.tar", quirks=DATA_PARALLEL,
    preprocessing=imagenet_eval(VONENET_MEAN, VONENET_STD),
    provenance=("Dapello, Marques et al. 2020, Simulating a primary visual cortex at the front of CNNs "
                "improves robustness to image perturbations (NeurIPS); release file of "
                "dicarlolab/vonenet@3c3a0b2 (README, vonenet/__init__.py FILE_WEIGHTS); deterministic "
                "(noise off); GPL-3.0 (vonenet)"))


# ---------------------------------------------------------------------------------------------------------
# The rest of the paper's pool under Brain-Score identifiers (brain-score/vision@d07d356
# brainscore_vision/models/<plugin>/model.py). Each entry loads the file that plugin (or the package it
# calls) downloads; where the plugin reads a copy from Brain-Score's S3 bucket, the public original of the
# same file is named when one exists (the bucket's files are sha1-pinned by Brain-Score, which alignjax
# does not use: they are locked on first use here). ``preprocessing`` is the model's own evaluation
# transform; Brain-Score's benchmarks resize stimuli to 224x224 themselves.
# ---------------------------------------------------------------------------------------------------------

BRAINSCORE_S3 = "https://brainscore-storage.s3.amazonaws.com/brainscore-vision/models/"
TORCHVISION = "https://download.pytorch.org/models/"
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)
STATE_DICT_OF_DATA_PARALLEL = CheckpointQuirks(key="state_dict", strip_prefixes=("module.",))

# Stylized-ImageNet (Geirhos et al. 2019, ImageNet-trained CNNs are biased towards texture; ICLR): the
# release files of rgeirhos/texture-vs-shape@ccd0c01 models/load_pretrained_models.py, checkpoints
# {'epoch', 'arch', 'state_dict': {'module.' + key}, 'best_prec1', 'optimizer'}; torchvision ResNet-50 /
# AlexNet layouts, ImageNet normalisation, torchvision's validation transform.
SIN_RELEASE = "https://bitbucket.org/robert_geirhos/texture-vs-shape-pretrained-models/raw/"
SIN_LICENCE = ("Geirhos et al. 2019 (ICLR); release files of rgeirhos/texture-vs-shape@ccd0c01 (no licence stated "
               "for the weights)")
_SIN = {
    "resnet50-SIN": ("6f41d2e86fc60566f78de64ecff35cc61eb6436f/resnet50_train_60_epochs-c8e5653e.pth.tar",
                     "resnet50_trained_on_SIN", "trained on Stylized-ImageNet only"),
    "resnet50-SIN_IN": (("60b770e128fffcbd8562a3ab3546c1a735432d03/"
                         "resnet50_train_45_epochs_combined_IN_SF-2a0d100e.pth.tar"),
                        "resnet50_trained_on_SIN_and_IN", "trained on Stylized-ImageNet and ImageNet"),
    "resnet50-SIN_IN_IN": (("60b770e128fffcbd8562a3ab3546c1a735432d03/resnet50_finetune_60_epochs_lr_decay_after"
                            "_30_start_resnet50_train_45_epochs_combined_IN_SF-ca06340c.pth.tar"),
                           "resnet50_trained_on_SIN_and_IN_then_finetuned_on_IN",
                           "trained on SIN and IN, then fine-tuned on ImageNet"),
}
for _identifier, (_file, _mvh, _what) in _SIN.items():
    brainscore_model(
        _identifier, arch="resnet50", family="resnet", training="shape", source=SIN_RELEASE + _file,
        quirks=STATE_DICT_OF_DATA_PARALLEL, preprocessing=imagenet_eval(),
        aliases=(f"modelvshuman/{_mvh}",),
        provenance=f"ResNet-50 {_what}; {SIN_LICENCE}; Brain-Score plugin {_identifier.replace('-', '_')}")
brainscore_model(
    "resnet_SIN_IN_FT_IN", arch="resnet50", family="resnet", training="shape",
    source=BRAINSCORE_S3 + "resnet_SIN_IN_FT_IN/" + _SIN["resnet50-SIN_IN_IN"][0].split("/", 1)[1],
    quirks=STATE_DICT_OF_DATA_PARALLEL, preprocessing=imagenet_eval(),
    provenance=("ResNet-50 trained on SIN and IN, then fine-tuned on ImageNet: Brain-Score's S3 copy of "
                f"the resnet50-SIN_IN_IN release file (same name); {SIN_LICENCE}"))
brainscore_model(
    "AlexNet_SIN", arch="alexnet", family="alexnet", training="shape",
    source=SIN_RELEASE + "0008049cd10f74a944c6d5e90d4639927f8620ae/alexnet_train_60_epochs_lr0.001-b4aa5238.pth.tar",
    # the training script wrapped only `features` in DataParallel: features.module.N -> features.N
    quirks=CheckpointQuirks(key="state_dict", rename=((r"^features\.module\.", "features."),)),
    preprocessing=imagenet_eval(), aliases=("modelvshuman/alexnet_trained_on_SIN",),
    provenance=f"AlexNet trained on Stylized-ImageNet; {SIN_LICENCE}; Brain-Score plugin AlexNet_SIN")

# torchvision releases (hash-named files; torchvision 0.28.0 models/*.py weight metadata)
for _identifier, _arch, _file, _accuracy in (
        ("densenet-121", "densenet121", "densenet121-a639ec97.pth", 74.434),
        ("densenet-169", "densenet169", "densenet169-b2777c0a.pth", 75.600),
        ("densenet-201", "densenet201", "densenet201-c1103571.pth", 76.896),
        ("inception_v1", "googlenet", "googlenet-1378be20.pth", 69.778)):
    torchvision_model(
        _arch, _identifier, family="densenet" if _arch.startswith("densenet") else "inception",
        source=TORCHVISION + _file, preprocessing=imagenet_eval(), expected_clean_acc=_accuracy,
        provenance=f"torchvision IMAGENET1K_V1 ({_file}); BSD-3-Clause; Brain-Score plugin {_identifier}")
brainscore_model(
    "inception_v3", arch="inception_v3", family="inception", input_shape=(299, 299, 3),
    source=TORCHVISION + "inception_v3_google-0cc3c7bd.pth",
    preprocessing=Preprocessing(resize=342, crop=299, interpolation="bilinear", mean=IMAGENET_MEAN,
                                std=IMAGENET_STD),
    expected_clean_acc=77.294, aliases=("torchvision/inception_v3",),
    provenance=("Szegedy et al. 2016, Rethinking the Inception Architecture; torchvision IMAGENET1K_V1 "
                "(Google's TF weights, transform_input); Brain-Score's plugin loads timm's inception_v3 "
                "(its tv_in1k tag points to a re-save of this file); BSD-3-Clause"))

# WSL ResNeXts (Mahajan et al. 2018, Exploring the Limits of Weakly Supervised Pretraining): Instagram
# pretraining, ImageNet fine-tune; facebookresearch/WSL-Images hubconf.py files; CC-BY-NC-4.0
for _width, _file in ((8, "ig_resnext101_32x8-c38310e5.pth"), (16, "ig_resnext101_32x16-c6f796b0.pth"),
                      (32, "ig_resnext101_32x32-e4b90b00.pth"), (48, "ig_resnext101_32x48-3e41cc8a.pth")):
    brainscore_model(
        f"resnext101_32x{_width}d_wsl", arch=f"resnext101_32x{_width}d", family="resnext",
        training="weakly-supervised", source=TORCHVISION + _file, preprocessing=imagenet_eval(),
        aliases=(f"timm/resnext101_32x{_width}d.fb_wsl_ig1b_ft_in1k",),
        provenance=(f"Mahajan et al. 2018 (WSL, Instagram 940M), ResNeXt-101 32x{_width}d; "
                    f"facebookresearch/WSL-Images hubconf.py; CC-BY-NC-4.0"))

# BiT-S (Kolesnikov et al. 2020, Big Transfer): the original google-research/big_transfer .npz files
for _size in ("R50x1", "R50x3", "R101x1", "R101x3", "R152x2", "R152x4"):
    _depth, _width = _size[1:].split("x")
    brainscore_model(
        f"BiT-S-{_size}", arch=f"resnetv2_{_depth}x{_width}_bit", family="bit",
        source=f"https://storage.googleapis.com/bit_models/BiT-S-{_size}.npz",
        quirks=CheckpointQuirks(layout="bit_npz"),
        preprocessing=Preprocessing(resize=256, crop=224, interpolation="bilinear", mean=INCEPTION_MEAN,
                                    std=INCEPTION_STD),
        provenance=(f"Kolesnikov et al. 2020, Big Transfer (BiT-S-{_size}, ImageNet-1k); google-research/"
                    "big_transfer release .npz (TF names); Apache-2.0; Brain-Score plugin "
                    f"BiT_S_{_size}"))

brainscore_model(
    "Res2Net50_26w_4s", arch="res2net50_26w_4s", family="res2net",
    source=BRAINSCORE_S3 + "Res2Net50_26w_4s/res2net50_26w_4s-06e79181.pth", preprocessing=imagenet_eval(),
    provenance=("Gao et al. 2021, Res2Net (TPAMI); the authors' release file res2net50_26w_4s-06e79181.pth "
                "(Res2Net/Res2Net-PretrainedModels), Brain-Score's S3 copy (no licence stated for the weights)"))

# antialiased CNNs (Zhang 2019, Making Convolutional Networks Shift-Invariant Again; ICML):
# adobe/antialiased-cnns@b27a34a antialiased_cnns/resnet.py, filter size 4, {'state_dict': ...}
ANTIALIASED = "https://antialiased-cnns.s3.us-east-2.amazonaws.com/weights_v0.1/"
for _identifier, _arch, _file in (
        ("antialiased-r50", "antialiased_resnet50", "resnet50_lpf4_finetune-cad66808.pth"),
        ("antialias-resnet152", "antialiased_resnet152", "resnet152_lpf4_finetune-7f67d9ae.pth"),
        ("antialiased-rnext101_32x8d", "antialiased_resnext101_32x8d",
         "resnext101_32x8d_lpf4_finetune-8f13a25d.pth")):
    brainscore_model(
        _identifier, arch=_arch, family="antialiased", source=ANTIALIASED + _file,
        quirks=CheckpointQuirks(key="state_dict"), preprocessing=imagenet_eval(),
        provenance=(f"Zhang 2019 (ICML), BlurPool filter size 4 ({_file}); adobe/antialiased-cnns@b27a34a; "
                    "CC-BY-NC-SA-4.0"))

brainscore_model(
    "ViT_L_32_imagenet1k", arch="vit_large_patch32_384", family="vit", input_shape=(384, 384, 3),
    source="https://github.com/lukemelas/PyTorch-Pretrained-ViT/releases/download/0.0.2/L_32_imagenet1k.pth",
    quirks=CheckpointQuirks(layout="pytorch_pretrained_vit"),
    preprocessing=Preprocessing(resize=384, crop=384, interpolation="bicubic", mean=INCEPTION_MEAN,
                                std=INCEPTION_STD),
    provenance=("Dosovitskiy et al. 2021, An Image is Worth 16x16 Words (ViT-L/32, IN-21k pretrained, IN-1k "
                "fine-tuned at 384); lukemelas/PyTorch-Pretrained-ViT 0.0.2 release (configs.py); Apache-2.0"))

VONENET = "https://vonenet-models.s3.us-east-2.amazonaws.com/"
brainscore_model(
    "voneresnet-50-robust", arch="voneresnet50", family="vonenet", training="adversarial",
    source=VONENET + "voneresnet50_at_e96.pth.tar", quirks=STATE_DICT_OF_DATA_PARALLEL,
    preprocessing=imagenet_eval(VONENET_MEAN, VONENET_STD),
    provenance=("Dapello, Marques et al. 2020 (NeurIPS): VOneResNet-50 adversarially trained (vonenet "
                "'resnet50_at'); dicarlolab/vonenet@3c3a0b2 vonenet/__init__.py; deterministic (noise off); "
                "GPL-3.0"))
brainscore_model(
    "voneresnet-50-non_stochastic", arch="voneresnet50", family="vonenet", training="brain-inspired",
    source=BRAINSCORE_S3 + "voneresnet-50-non_stochastic/voneresnet50_ns_e70.pth.tar",
    quirks=STATE_DICT_OF_DATA_PARALLEL, preprocessing=imagenet_eval(VONENET_MEAN, VONENET_STD),
    provenance=("Dapello, Marques et al. 2020 (NeurIPS): VOneResNet-50 trained without noise; Brain-Score's "
                "S3 file (plugin voneresnet_50_non_stochastic); GPL-3.0"))

# efficient CNNs from torchvision's releases (torchvision 0.28.0 models/{mobilenetv2,mobilenetv3,
# shufflenetv2}.py weight metadata); ShuffleNet-V2 x1.0 is Brain-Score's `shufflenet_v2_x1_0` plugin
_TV_232 = Preprocessing(resize=232, crop=224, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD)
for _identifier, _arch, _file, _accuracy, _v2_transform, _family in (
        ("shufflenet_v2_x1_0", "shufflenet_v2_x1_0", "shufflenetv2_x1-5666bf0f80.pth", 69.362, False, "shufflenet"),
        (None, "shufflenet_v2_x0_5", "shufflenetv2_x0.5-f707e7126e.pth", 60.552, False, "shufflenet"),
        (None, "shufflenet_v2_x1_5", "shufflenetv2_x1_5-3c479a10.pth", 72.996, True, "shufflenet"),
        (None, "shufflenet_v2_x2_0", "shufflenetv2_x2_0-8be3c8ee.pth", 76.230, True, "shufflenet"),
        (None, "mobilenet_v2", "mobilenet_v2-b0353104.pth", 71.878, False, "mobilenet"),
        (None, "mobilenet_v3_large", "mobilenet_v3_large-8738ca79.pth", 74.042, False, "mobilenet"),
        (None, "mobilenet_v3_small", "mobilenet_v3_small-047dcff4.pth", 67.668, False, "mobilenet")):
    _paper = ("Ma et al. 2018, ShuffleNet V2" if _family == "shufflenet" else
              "Sandler et al. 2018, MobileNetV2" if _arch == "mobilenet_v2" else "Howard et al. 2019, MobileNetV3")
    torchvision_model(
        _arch, _identifier, family=_family, source=TORCHVISION + _file, expected_clean_acc=_accuracy,
        preprocessing=_TV_232 if _v2_transform else imagenet_eval(),
        provenance=f"torchvision IMAGENET1K_V1 ({_file}): {_paper}; BSD-3-Clause")

# RegNets (Radosavovic et al. 2020, Designing Network Design Spaces; torchvision 0.28.0 models/regnet.py
# IMAGENET1K_V1 files); RegNetY-400MF is Brain-Score's `regnet` plugin (`regnet_y_400mf`)
for _arch, _file, _accuracy in (
        ("regnet_y_400mf", "regnet_y_400mf-c65dace8.pth", 74.046),
        ("regnet_y_800mf", "regnet_y_800mf-1b27b58c.pth", 76.420),
        ("regnet_y_1_6gf", "regnet_y_1_6gf-b11a554e.pth", 77.950),
        ("regnet_y_3_2gf", "regnet_y_3_2gf-b5a9779c.pth", 78.948),
        ("regnet_y_8gf", "regnet_y_8gf-d0d0e4a8.pth", 80.032),
        ("regnet_x_400mf", "regnet_x_400mf-adf1edd5.pth", 72.834),
        ("regnet_x_1_6gf", "regnet_x_1_6gf-e3633e7f.pth", 77.040),
        ("regnet_x_8gf", "regnet_x_8gf-03ceed89.pth", 79.344)):
    torchvision_model(
        _arch, _arch if _arch == "regnet_y_400mf" else None, family="regnet", source=TORCHVISION + _file,
        expected_clean_acc=_accuracy, preprocessing=imagenet_eval(),
        provenance=f"Radosavovic et al. 2020 (RegNet); torchvision IMAGENET1K_V1 ({_file}); BSD-3-Clause")

# EfficientNets. AdvProp (Xie et al. 2020, Adversarial Examples Improve Image Recognition; CVPR): the
# lukemelas/EfficientNet-PyTorch 1.0 release files that efficientnet_pytorch 0.7.1 (utils.py
# url_map_advprop) loads for `from_pretrained(name, advprop=True)`, Brain-Score's AdvProp_efficientnet-bN
# and AT_efficientnet-b2 plugins (the same b2 file); inputs normalised as x * 2 - 1 (mean = std = 0.5).
# Preprocessing: timm's for the same weights (tf_efficientnet_bN.ap_in1k: native size, its crop_pct,
# bicubic). B8 (672 px) has no port here.
ADVPROP = "https://github.com/lukemelas/EfficientNet-PyTorch/releases/download/1.0/"
_ADVPROP_FILES = {"b2": ("adv-efficientnet-b2-6e9d97e5.pth", 260, 0.890),
                  "b4": ("adv-efficientnet-b4-44fb3a87.pth", 380, 0.922),
                  "b6": ("adv-efficientnet-b6-ac80338e.pth", 528, 0.942),
                  "b7": ("adv-efficientnet-b7-4652b6dd.pth", 600, 0.949)}
_HALF = (0.5, 0.5, 0.5)
for _identifier, _variant in (("AdvProp_efficientnet-b2", "b2"), ("AdvProp_efficientnet-b4", "b4"),
                              ("AdvProp_efficientnet-b6", "b6"), ("AdvProp_efficientnet-b7", "b7"),
                              ("AT_efficientnet-b2", "b2")):
    _file, _size, _crop = _ADVPROP_FILES[_variant]
    brainscore_model(
        _identifier, arch=f"tf_efficientnet_{_variant}", family="efficientnet", training="adversarial",
        input_shape=(_size, _size, 3), source=ADVPROP + _file,
        quirks=CheckpointQuirks(layout="lukemelas_efficientnet"), arch_kwargs=(("mean", _HALF), ("std", _HALF)),
        preprocessing=Preprocessing(resize=int(_size / _crop), crop=_size, interpolation="bicubic", mean=_HALF,
                                    std=_HALF),
        provenance=(f"EfficientNet-{_variant.upper()} with AdvProp (Xie et al. 2020, CVPR; adversarial examples "
                    f"as auxiliary training data); lukemelas/EfficientNet-PyTorch release {_file}; Apache-2.0"))
for _identifier, _arch, _file, _size, _resize, _interpolation, _accuracy in (
        ("efficientnet_b0", "tv_efficientnet_b0", "efficientnet_b0_rwightman-7f5810bc.pth", 224, 256, "bicubic", 77.692),
        ("tv_efficientnet-b1", "tv_efficientnet_b1", "efficientnet_b1-c27df63c.pth", 240, 255, "bilinear", 79.838)):
    brainscore_model(
        _identifier, arch=_arch, family="efficientnet", input_shape=(_size, _size, 3), source=TORCHVISION + _file,
        preprocessing=Preprocessing(resize=_resize, crop=_size, interpolation=_interpolation, mean=IMAGENET_MEAN,
                                    std=IMAGENET_STD),
        expected_clean_acc=_accuracy,
        provenance=(f"Tan & Le 2019, EfficientNet; torchvision 0.28.0 {_file} (DEFAULT weights); BSD-3-Clause"))
