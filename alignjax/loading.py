"""The one model loader: a registry name, a ``ModelSpec``, an architecture with a weights file, or the
embedded default, as one ``LoadedModel``.

``alignjax attack``, ``alignjax sweep``, ``alignjax crosscheck`` and both ``alignjax align`` commands
load models only through ``load``; it is also ``alignjax.models.load``. Registry models come through
``alignjax.weights.convert.load_model`` (download, digest or lockfile check, quirks, key map, strict
check, converted-file cache); weights files through ``alignjax.weights.rebuild.load_weights_for_arch``
(a file ``alignjax convert`` wrote is rebuilt from its record, a PyTorch checkpoint with the
architecture's defaults and a note saying so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignjax.errors import InputError

__all__ = ["EMBEDDED_DESCRIPTION", "LoadedModel", "load"]

EMBEDDED_DESCRIPTION = "embedded digits CNN (weights/digits_cnn.safetensors)"


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready to run: ``logits_fn(variables, images)`` maps NHWC [0, 1] images to logits.

    Attributes:
      logits_fn, variables: the model.
      description: what was loaded, for logs and manifests (``'resnet50 from r50.pth'``).
      spec: the registry entry, or None for a weights file and the embedded default.
      num_classes: output classes; None when only a forward pass can tell (a weights file's record
        without it).
      input_shape: (h, w, c) the model was built and checked for.
      preprocessing: the entry's ``Preprocessing`` (None for weights files: the data is taken as given).
      weights_file: the file the weights came from when it is local (provenance digests), else None.
      options: how the model was built (source and digest, or the architecture's options), for manifests.
      notes: things the user should know (e.g. defaults assumed for a checkpoint without a record).
    """

    logits_fn: Callable[[Any, Any], Any]
    variables: Any
    description: str
    spec: Any = None
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None
    preprocessing: Any = None
    weights_file: Path | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def embedded(self) -> bool:
        return self.description == EMBEDDED_DESCRIPTION


def load(
    reference: Any = None,
    *,
    arch: str | None = None,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    arch_options: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    offline: bool | None = None,
) -> LoadedModel:
    """Loads a model.

    Args:
      reference: a registry name (``'resnet50.tv_in1k'``, ``'brainscore/CORnet-S'``, an alias) or a
        ``ModelSpec``; None with ``arch`` None: the embedded digits CNN.
      arch, weights: an architecture and its weights file (converted safetensors or a PyTorch
        checkpoint) instead of a registry entry.
      num_classes, input_shape, arch_options: for ``arch``/``weights`` only: the class count (default:
        read off the weights), the input size to check the weights at (default: the architecture's),
        builder options (must agree with a converted file's record).
      cache_dir, offline: for registry entries (``alignjax.weights.convert.load_model``).
    """
    if reference is not None and arch is not None:
        raise InputError("give a registry model or an architecture with its weights file, not both")
    if weights is not None and arch is None:
        raise InputError("a weights file needs its architecture (--arch NAME); registry models need no file")
    if arch is None and (num_classes is not None or arch_options):
        raise InputError("--num-classes and --arch-option go with --arch and --weights")
    if reference is None and arch is None:
        from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir, load_embedded

        logits_fn, variables = load_embedded()
        return LoadedModel(logits_fn, variables, EMBEDDED_DESCRIPTION, num_classes=10, input_shape=(8, 8, 1),
                           weights_file=bundled_weights_dir() / EMBEDDED_WEIGHTS)
    if reference is not None:
        from alignjax.weights.convert import load_model

        logits_fn, variables, spec = load_model(reference, cache_dir=cache_dir, offline=offline)
        return LoadedModel(logits_fn, variables, spec.name, spec=spec, num_classes=spec.num_classes,
                           input_shape=tuple(spec.input_shape), preprocessing=spec.preprocessing,
                           options={"source": spec.source, "sha256": spec.sha256})
    if weights is None:
        raise InputError(f"--arch {arch} needs --weights FILE (a PyTorch checkpoint or a converted file)")
    path = Path(weights)
    if path.is_dir():
        raise InputError(f"--weights {path} is a directory; give the checkpoint file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"--weights {path} does not exist")
    from alignjax.models.registry import ARCHITECTURES

    if arch not in ARCHITECTURES:
        import difflib

        close = difflib.get_close_matches(arch, list(ARCHITECTURES), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `alignjax models` lists named models"
        raise InputError(f"unknown architecture {arch!r}{hint}")
    from alignjax.weights.rebuild import load_weights_for_arch

    shape = tuple(input_shape) if input_shape is not None else None
    logits_fn, variables, info = load_weights_for_arch(path, arch, num_classes=num_classes, input_shape=shape,
                                                       arch_kwargs=arch_options)
    notes = tuple(info.pop("notes"))
    return LoadedModel(logits_fn, variables, f"{arch} from {path}", num_classes=info["num_classes"],
                       input_shape=tuple(info["input_shape"]) if shape is None else shape,
                       weights_file=path, options=info, notes=notes)
