"""Adversarially trained ImageNet models, registered at import: the Madry-lab robustness library's
ResNet-50s and RobustBench's ImageNet Linf entries whose architectures alignjax ports.

**Robustness library** (Salman et al. 2020, "Do Adversarially Robust ImageNet Models Transfer Better?",
NeurIPS; Engstrom et al. 2019, the ``robustness`` library): ResNet-50s adversarially trained at L2 eps
0.01-5 and Linf eps 0.5/255-8/255, released on the Hugging Face hub as
``madrylab/robust-imagenet-models/resnet50_{l2,linf}_eps<eps>.ckpt`` (the files model-vs-human's
``modelvshuman/models/pytorch/adversarially_robust/robust_models.py`` reads, bethgelab/model-vs-human@79ed7cd;
MIT). A checkpoint is ``{'model': state_dict, 'optimizer', 'schedule', 'epoch'}`` whose state dict holds the
network twice, as ``module.model.*`` and ``module.attacker.model.*``, next to the input normaliser's
``module.normalizer.*`` / ``module.attacker.normalize.*`` buffers (ImageNet mean/std, which the Flax model
applies itself): the entries keep ``module.model.`` only (``CheckpointQuirks.keep_prefix``), as
model-vs-human and Brain-Score's ``resnet50_robust_*`` plugins do. Named ``madrylab/resnet50_<norm>_eps<eps>``
with model-vs-human's names as aliases; the L2 eps 1 and eps 3 models carry Brain-Score's identifiers
(``resnet50_robust_l2_eps1``, ``resnet50_robust_l2_eps3``; Brain-Score reads copies of the same files from
its S3 bucket). The hub files are not pinned to a commit here (no network where the entries were written):
they are locked on first use (``alignjax.weights.verify``).

**RobustBench ImageNet Linf** (RobustBench/robustbench@78fcc9e ``robustbench/model_zoo/imagenet.py``): the
entries whose networks are torchvision ResNets, timm ConvNeXts and Swins. RobustBench wraps them as
``Sequential(normalize, model)`` with ImageNet mean/std (except ``Chen2024Data_WRN_50_2``, which takes raw
[0, 1] images) and loads the Google Drive file after removing ``module.`` and ``model.``
(``utils.load_model``); the published clean and AutoAttack accuracies (eps 4/255, 5,000 validation images)
are those of ``model_info/imagenet/Linf/<name>.json``, as shipped in
``alignjax/analysis/data/robustbench_model_info.parquet``. Left out: the ConvStem models (Singh et al. 2023;
a convolutional stem alignjax does not port), XCiT, RobustArch's WRN-101-2, the MeanSparse and MixedNUTS
wrappers, the MIMIR Swins, and Mo et al. 2022 (RobustBench resizes its inputs to a 224x224 square without
keeping the aspect ratio, a transform ``Preprocessing`` does not express).
"""

from __future__ import annotations

import dataclasses

from alignjax.models.registry import (
    CheckpointQuirks,
    ModelSpec,
    Preprocessing,
    RobustAccuracy,
    register_model,
)
from alignjax.models.zoo_robustbench import DRIVE_URL, ROBUSTBENCH_COMMIT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_EVAL = Preprocessing(resize=256, crop=224, interpolation="bilinear", mean=IMAGENET_MEAN,
                                 std=IMAGENET_STD)
TORCHVISION_RESNET50 = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
# robustbench.utils.load_model's surgery as data: DataParallel / Sequential prefixes off; the
# ImageNormalizer's buffers (if a file carries them) dropped, the Flax model normalises itself
NORMALISER = r"(^|\.)normali[sz]e\."
ROBUSTBENCH_IMAGENET = CheckpointQuirks(drop=(NORMALISER,), strip_prefixes=("module.", "model."))
MADRY_REPO = "madrylab/robust-imagenet-models"
MADRY = CheckpointQuirks(key="model", keep_prefix="module.model.")
SALMAN = "Salman et al. 2020, Do Adversarially Robust ImageNet Models Transfer Better? (NeurIPS)"

# eps as in the file name -> (model-vs-human name, Brain-Score identifier)
_L2 = {
    "0": ("resnet50_l2_eps0", None), "0.01": ("resnet50_l2_eps0_01", None),
    "0.03": ("resnet50_l2_eps0_03", None), "0.05": ("resnet50_l2_eps0_05", None),
    "0.1": ("resnet50_l2_eps0_1", None), "0.25": ("resnet50_l2_eps0_25", None),
    "0.5": ("resnet50_l2_eps0_5", None), "1": ("resnet50_l2_eps1", "resnet50_robust_l2_eps1"),
    "3": ("resnet50_l2_eps3", "resnet50_robust_l2_eps3"), "5": ("resnet50_l2_eps5", None),
}
_LINF = ("0.5", "1.0", "2.0", "4.0", "8.0")


def madry_model(norm: str, eps: str, *, mvh_name: str | None = None, brainscore_id: str | None = None) -> ModelSpec:
    """One robustness-library ResNet-50 from ``madrylab/robust-imagenet-models``."""
    filename = f"resnet50_{norm.lower()}_eps{eps}.ckpt"
    radius = f"{eps}/255" if norm == "Linf" else eps
    training = "standard" if float(eps) == 0 else "adversarial"
    aliases = tuple(f"modelvshuman/{name}" for name in (mvh_name,) if name)
    return register_model(ModelSpec(
        name=f"madrylab/resnet50_{norm.lower()}_eps{eps}", arch="resnet50",
        source=f"hf://{MADRY_REPO}/{filename}@main", quirks=MADRY, preprocessing=TORCHVISION_EVAL,
        family="resnet", training=training, brainscore_id=brainscore_id, aliases=aliases,
        pools=frozenset({"paper"}),
        provenance=(f"ResNet-50 adversarially trained (PGD) at {norm} eps {radius}; {SALMAN}; MadryLab "
                    f"robustness library; hub repo {MADRY_REPO} file {filename} (revision main, locked on "
                    "first use); MIT"),
    ))


for _eps, (_mvh, _brainscore) in _L2.items():
    madry_model("L2", _eps, mvh_name=_mvh, brainscore_id=_brainscore)
for _eps in _LINF:
    madry_model("Linf", _eps)


def robustbench_imagenet(name: str, *, arch: str, drive_id: str | None, clean: float, robust: float, paper: str,
                         preprocessing: Preprocessing = TORCHVISION_EVAL, input_size: int = 224,
                         quirks: CheckpointQuirks = ROBUSTBENCH_IMAGENET, arch_kwargs: tuple = (),
                         family: str = "resnet", licence: str = "MIT (RobustBench)") -> ModelSpec:
    """One RobustBench ImageNet Linf entry (eps 4/255), named ``robustbench/imagenet/Linf/<name>``; without a
    Drive id the network is torchvision's pretrained ResNet-50 (``Standard_R50``)."""
    source = TORCHVISION_RESNET50 if drive_id is None else DRIVE_URL + drive_id
    where = "torchvision's IMAGENET1K_V1 file" if drive_id is None else f"Google Drive {drive_id}"
    return register_model(ModelSpec(
        name=f"robustbench/imagenet/Linf/{name}", arch=arch, source=source,
        input_shape=(input_size, input_size, 3), quirks=quirks, preprocessing=preprocessing,
        arch_kwargs=arch_kwargs, expected_clean_acc=clean,
        expected_robust_acc=RobustAccuracy("Linf", 4 / 255, "4/255", robust), family=family,
        training="standard" if name.startswith("Standard") else "adversarial", pools=frozenset({"paper"}),
        provenance=f"{paper}; {ROBUSTBENCH_COMMIT} model_zoo/imagenet.py ({where}); {licence}",
    ))


robustbench_imagenet(
    "Wong2020Fast", arch="resnet50", drive_id="1deM2ZNS5tf3S_-eRURJi-IlvUL8WJQ_w", clean=55.62, robust=26.24,
    # RobustBench's 'Crop288': a 288x288 centre crop of the validation image, no resize
    preprocessing=Preprocessing(crop=288, mean=IMAGENET_MEAN, std=IMAGENET_STD), input_size=288,
    paper="Wong, Rice & Kolter, Fast is better than free: Revisiting adversarial training (ICLR 2020)")
robustbench_imagenet(
    "Engstrom2019Robustness", arch="resnet50", drive_id="1T2Fvi1eCJTeAOEzrH_4TAIwO8HTOYVyn", clean=62.56,
    robust=29.22, paper="Engstrom et al. 2019, Robustness (Python library), ResNet-50 Linf 4/255")
robustbench_imagenet(
    "Salman2020Do_R50", arch="resnet50", drive_id="1TmT5oGa1UvVjM3d-XeSj_XmKqBNRUg8r", clean=64.02,
    robust=34.96, paper=SALMAN)
robustbench_imagenet(
    "Salman2020Do_R18", arch="resnet18", drive_id="1OThCOQCOxY6lAgxZxgiK3YuZDD7PPfPx", clean=52.92,
    robust=25.32, paper=SALMAN)
robustbench_imagenet(
    "Salman2020Do_50_2", arch="wide_resnet50_2", drive_id="1OT7xaQYljrTr3vGbM37xK9SPoPJvbSKB", clean=68.46,
    robust=38.14, paper=SALMAN, family="wide_resnet")
robustbench_imagenet(
    "Chen2024Data_WRN_50_2", arch="wide_resnet50_2", drive_id="1-PBlZVILAKFQ7mF8srKjdkTKJZAr61Uf",
    clean=68.76, robust=40.60, family="wide_resnet",
    # RobustBench builds it without the normalising layer: the network takes [0, 1] images as they are
    preprocessing=Preprocessing(resize=256, crop=224, interpolation="bilinear"),
    arch_kwargs=(("mean", (0.0, 0.0, 0.0)), ("std", (1.0, 1.0, 1.0))),
    paper="Chen et al., Data filtering for efficient adversarial training (Pattern Recognition 2024)")
_LIU = ("Liu et al., A Comprehensive Study on Robustness of Image Classification Models: Benchmarking and "
        "Rethinking (arXiv 2302.14301)")
_BICUBIC = Preprocessing(resize=256, crop=224, interpolation="bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD)
for _size, _arch, _drive, _clean, _robust in (("B", "convnext_base", "10-nSm-qUftvfKXHeOAakBQl8rxm-jCbk", 76.02, 55.82),
                                              ("L", "convnext_large", "1dIPLNfdQtAnqZrKPyuy3_zDI-FVgJ2FH", 78.02, 58.48)):
    robustbench_imagenet(f"Liu2023Comprehensive_ConvNeXt-{_size}", arch=_arch, drive_id=_drive, clean=_clean,
                         robust=_robust, preprocessing=_BICUBIC, family="convnext", paper=_LIU)
for _size, _arch, _drive, _clean, _robust in (
        ("B", "swin_base_patch4_window7_224", "1-4mtxQCkThJUVdS3wvQ6NnmMZuySqR3c", 76.16, 56.16),
        ("L", "swin_large_patch4_window7_224", "1-57sQfcrsDsslfDR18nRD7FnpQmsSBk7", 78.92, 59.56)):
    # RobustBench passes the file through timm's swin checkpoint_filter_fn (the original release layout)
    robustbench_imagenet(f"Liu2023Comprehensive_Swin-{_size}", arch=_arch, drive_id=_drive, clean=_clean,
                         robust=_robust, preprocessing=_BICUBIC, family="swin", paper=_LIU,
                         quirks=dataclasses.replace(ROBUSTBENCH_IMAGENET, layout="microsoft_swin"))
robustbench_imagenet(
    "Standard_R50", arch="resnet50", drive_id=None, clean=76.52, robust=0.0, quirks=CheckpointQuirks(),
    paper="torchvision's standardly trained ResNet-50 (IMAGENET1K_V1), RobustBench's ImageNet baseline")
