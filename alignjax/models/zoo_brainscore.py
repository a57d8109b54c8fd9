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

from collections.abc import Callable, Mapping

import numpy as np

from alignjax.models.registry import ModelSpec, Preprocessing, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VONENET_MEAN = VONENET_STD = (0.5, 0.5, 0.5)


def data_parallel_convert(arch: str) -> Callable:
    """``ModelSpec.convert``: removes ``nn.DataParallel``'s ``module.`` prefix, then the family key map."""

    def convert(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from alignjax.weights.keymaps import get_converter

        stripped = {name.removeprefix("module."): value for name, value in state_dict.items()}
        return get_converter(arch)(stripped)

    convert.__name__ = f"convert_data_parallel_{arch}"
    return convert


def _imagenet(mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> Preprocessing:
    return Preprocessing(resize=256, crop=224, interpolation="bilinear", mean=mean, std=std)


# (Brain-Score identifier, arch, source, published top-1 %, arch kwargs, provenance)
_ENTRIES: tuple[tuple[str, str, str, float | None, tuple, str], ...] = (
    ("alexnet", "alexnet", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", 56.522, (),
     ("Krizhevsky et al. 2012 (torchvision's one-weird-trick AlexNet, IMAGENET1K_V1); Brain-Score plugin "
     "brainscore_vision/models/alexnet; BSD-3-Clause (torchvision)")),
    ("CORnet-Z", "cornet_z", "https://s3.amazonaws.com/cornet-models/cornet_z-5c427c9c.pth", None, (),
     ("Kubilius, Schrimpf et al. 2019, Brain-Like Object Recognition with High-Performing Shallow "
     "Recurrent ANNs (NeurIPS); release file of dicarlolab/CORnet@d0cc17d (README, cornet/cornet_z.py "
     "HASH); GPL-3.0 (CORnet)")),
    ("CORnet-S", "cornet_s", "https://s3.amazonaws.com/cornet-models/cornet_s-1d3f7974.pth", None, (),
     ("Kubilius, Schrimpf et al. 2019 (NeurIPS); release file of dicarlolab/CORnet@d0cc17d (README, "
     "cornet/cornet_s.py HASH); Brain-Score's plugin reads cornet_s_epoch43.pth.tar from its S3 bucket; "
     "GPL-3.0 (CORnet)")),
    ("voneresnet-50", "voneresnet50",
     "https://vonenet-models.s3.us-east-2.amazonaws.com/voneresnet50_e70.pth.tar", None, (),
     ("Dapello, Marques et al. 2020, Simulating a primary visual cortex at the front of CNNs improves "
     "robustness to image perturbations (NeurIPS); release file of dicarlolab/vonenet@3c3a0b2 (README, "
     "vonenet/__init__.py FILE_WEIGHTS); deterministic (noise off); GPL-3.0 (vonenet)")),
)

for _identifier, _arch, _source, _accuracy, _kwargs, _provenance in _ENTRIES:
    _vone = _arch.startswith("vone")
    register_model(ModelSpec(
        name=f"brainscore/{_identifier}",
        arch=_arch,
        num_classes=1000,
        input_shape=(224, 224, 3),
        source=_source,
        convert=data_parallel_convert(_arch),
        sha256=None,
        preprocessing=_imagenet(VONENET_MEAN, VONENET_STD) if _vone else _imagenet(),
        arch_kwargs=_kwargs,
        expected_clean_acc=_accuracy,
        provenance=_provenance,
    ))
