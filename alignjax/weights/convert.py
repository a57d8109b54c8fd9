"""Checkpoint -> Flax-ready safetensors, and named models -> ``(logits_fn, variables, spec)``.

``convert_checkpoint`` reads any supported file (no torch), applies the checkpoint's quirks and the
family converter of the architecture (``quirks.prepare_state_dict``), checks the result strictly against
the Flax module and writes ``'/'``-joined float32 arrays plus a record of every builder argument
(``metadata.py``: class count read off the checkpoint when not given, options, resolved normalisation,
input shape, source sha256), in the safetensors header and a JSON sidecar; ``load_weights_for_arch``
(``rebuild.py``) rebuilds the model from that record. ``load_model`` does the same for a registered
``ModelSpec`` through the hub and caches the converted file under ``cache_root()/converted``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from alignjax.models.embedded import flatten, unflatten
from alignjax.models.registry import (
    MODELS,
    NO_QUIRKS,
    CheckpointQuirks,
    ModelSpec,
    build_architecture,
    get_model_spec,
)
from alignjax.weights import hub
from alignjax.weights.metadata import check_rebuild, make_record, read_record, write_weights
from alignjax.weights.quirks import prepare_state_dict
from alignjax.weights.readers import load_checkpoint
from alignjax.weights.rebuild import build_and_check, load_weights_for_arch, logits_fn_for
from alignjax.weights.strict import check_against_module
from alignjax.weights.verify import pinning, sha256_file

__all__ = ["build_and_check", "convert_checkpoint", "convert_state_dict", "list_models", "load_model",
           "load_weights_for_arch", "logits_fn_for"]

log = logging.getLogger(__name__)

def convert_state_dict(
    state_dict: Mapping[str, np.ndarray],
    arch: str,
    *,
    quirks: CheckpointQuirks = NO_QUIRKS,
    input_shape: tuple[int, int, int] | None = None,
    dont_load: str | None = None,
    source: str = "checkpoint",
    **arch_kwargs: Any,
) -> dict[str, Any]:
    """PyTorch-style state dict -> nested Flax variables, strictly checked against ``arch``.

    ``quirks`` (a ``ModelSpec``'s) are applied first (``quirks.prepare_state_dict``); without
    ``num_classes`` the class count is read off the checkpoint.
    """
    flat = prepare_state_dict(state_dict, arch, quirks, source=source)
    num_classes = arch_kwargs.pop("num_classes", None)
    return build_and_check(flat, arch, num_classes=num_classes, input_shape=input_shape, dont_load=dont_load,
                           source=source, **arch_kwargs)[1]


def convert_checkpoint(
    path: str | Path,
    arch: str,
    out_path: str | Path,
    *,
    key: str | None = None,
    quirks: CheckpointQuirks = NO_QUIRKS,
    input_shape: tuple[int, int, int] | None = None,
    dont_load: str | None = None,
    **arch_kwargs: Any,
) -> Path:
    """Converts a checkpoint file into Flax-ready safetensors plus a ``.json`` sidecar; returns out_path.

    Args:
      path: safetensors / torch.save (zip or legacy) / .npz checkpoint (PyTorch names, or Flax names
        ``params/...`` as alignjax writes them, which are taken as they are).
      arch: a registered architecture (``alignjax.models.ARCHITECTURES``).
      out_path: where to write the ``.safetensors``; the sidecar goes next to it with a ``.json`` suffix.
      key: the entry holding the weights in a nested checkpoint, if automatic selection picks wrongly.
      quirks: checkpoint surgery as data (``CheckpointQuirks``: kept/dropped/renamed keys, a layout).
      input_shape: (h, w, c) for the shape check; default: the architecture's registered input shape.
      dont_load: regex of module variables that may be absent from the checkpoint.
      **arch_kwargs: passed to the architecture builder (``num_classes``, ``mean``/``std`` ...); without
        ``num_classes`` the class count is read off the checkpoint.

    The file and its sidecar record every builder argument (``metadata.make_record``), so
    ``load_weights_for_arch`` rebuilds exactly this model.
    """
    path, out_path = Path(path), Path(out_path)
    loaded = load_checkpoint(path, key=key or quirks.key, strip=False)
    flat = prepare_state_dict(loaded.state_dict, arch, quirks, source=str(path))
    num_classes = arch_kwargs.pop("num_classes", None)
    module, variables, classes, shape = build_and_check(
        flat, arch, num_classes=num_classes, input_shape=input_shape, dont_load=dont_load, source=str(path),
        **arch_kwargs)
    record = make_record(arch, module, num_classes=classes, input_shape=shape, arch_kwargs=arch_kwargs,
                         num_classes_read_off_checkpoint=num_classes is None, source=str(path),
                         source_sha256=sha256_file(path), source_format=loaded.format,
                         source_key=loaded.key)
    return write_weights(flatten(dict(variables)), out_path, record)


def _converted_path(spec: ModelSpec, cache_dir: Path) -> Path:
    parsed = hub.parse_source(spec.source)
    if spec.sha256:
        tag = spec.sha256[:16]
    elif isinstance(parsed, hub.UrlSource):  # the URL itself identifies the file
        tag = parsed.hash_prefix or hashlib.sha256(parsed.url.encode()).hexdigest()[:16]
    else:
        tag = str(parsed).rpartition("@")[2][:40]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{spec.name}-{tag}")
    return cache_dir / "converted" / f"{safe}.safetensors"


def load_model(
    name_or_spec: str | ModelSpec,
    *,
    cache_dir: str | Path | None = None,
    offline: bool | None = None,
    refresh: bool = False,
) -> tuple[Callable[[Any, Any], Any], dict[str, Any], ModelSpec]:
    """``(logits_fn, variables, spec)`` of a registered model, downloading and converting on first use.

    Args:
      name_or_spec: a registry name (``alignjax.models.MODELS``) or a ``ModelSpec``.
      cache_dir: root for the hub cache (``<cache_dir>/hub``), URL downloads (``<cache_dir>/downloads``)
        and converted files (``<cache_dir>/converted``); default ``$ALIGNJAX_CACHE`` or
        ``~/.cache/alignjax`` (hub files then go to the Hugging Face default cache unless
        ``ALIGNJAX_CACHE`` is set).
      offline: only use caches (default: ``HF_HUB_OFFLINE``).
      refresh: convert again even when a converted file is cached.

    ``logits_fn(variables, images)`` maps NHWC images in [0, 1], preprocessed as ``spec.preprocessing``
    says, to logits.
    """
    spec = get_model_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    arch_kwargs = dict(spec.arch_kwargs)
    module = build_architecture(spec.arch, num_classes=spec.num_classes, **arch_kwargs)
    root = Path(cache_dir) if cache_dir is not None else hub.cache_root()
    parsed = hub.parse_source(spec.source)
    downloaded = isinstance(parsed, (hub.HubSource, hub.UrlSource))
    cached = _converted_path(spec, root)
    if downloaded and cached.is_file() and not refresh:
        variables = check_against_module(module, load_file(str(cached)), spec.input_shape, source=str(cached))
        record = read_record(cached)
        if record is not None:
            check_rebuild(record, module, str(cached))
        return logits_fn_for(module), variables, spec
    folder = "downloads" if isinstance(parsed, hub.UrlSource) else "hub"
    hub_cache = Path(cache_dir) / folder if cache_dir is not None else None
    path = hub.fetch(spec.source, sha256=spec.sha256, cache_dir=hub_cache, offline=offline)
    loaded = load_checkpoint(path, key=spec.quirks.key, strip=False)
    variables = convert_state_dict(loaded.state_dict, spec.arch, quirks=spec.quirks,
                                   input_shape=spec.input_shape, source=f"{spec.name} ({path})",
                                   num_classes=spec.num_classes, **arch_kwargs)
    if downloaded:
        record = make_record(spec.arch, module, num_classes=spec.num_classes, input_shape=spec.input_shape,
                             arch_kwargs=arch_kwargs, name=spec.name, source=spec.source,
                             source_sha256=sha256_file(path))
        write_weights(flatten(dict(variables)), cached, record)
    return logits_fn_for(module), variables, spec


def list_models(pool: str | None = None) -> list[dict[str, Any]]:
    """One row per registered model (name, arch, family, training, Brain-Score id, source and how it is
    pinned, accuracies, preprocessing, provenance); ``pool`` keeps the entries of that pool only."""
    rows = []
    for name in sorted(MODELS):
        spec = MODELS[name]
        if pool is not None and pool not in spec.pools:
            continue
        robust = spec.expected_robust_acc
        rows.append({
            "name": name,
            "arch": spec.arch,
            "family": spec.family,
            "training": spec.training,
            "brainscore_id": spec.brainscore_id,
            "aliases": list(spec.aliases),
            "pools": sorted(spec.pools),
            "num_classes": spec.num_classes,
            "input_shape": "x".join(map(str, spec.input_shape)),
            "source": spec.source,
            "sha256": spec.sha256,
            "pinning": pinning(spec.source, spec.sha256),
            "expected_clean_acc": spec.expected_clean_acc,
            "expected_robust_acc": None if robust is None else robust.accuracy,
            "threat_model": None if robust is None else f"{robust.norm} {robust.eps_text}",
            "resize": spec.preprocessing.resize,
            "crop": spec.preprocessing.crop,
            "interpolation": spec.preprocessing.interpolation,
            "mean": list(spec.preprocessing.mean),
            "std": list(spec.preprocessing.std),
            "provenance": spec.provenance,
        })
    return rows


def load_converted(path: str | Path) -> dict[str, Any]:
    """Nested variables from a file written by ``convert_checkpoint``."""
    return unflatten(load_file(str(path)))
