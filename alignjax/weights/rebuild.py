"""Rebuilding a model for a weights file: the right class count, options, normalisation and input shape.

``build_and_check`` builds an architecture for converted variables (class count read off them when
not given, the architecture's registered input shape) and checks them strictly, saying which input
shape would fit when the default does not. ``load_weights_for_arch`` is what ``alignjax attack --arch
--weights`` uses: a file written by ``convert_checkpoint`` is rebuilt from its record
(``metadata.py``), anything else with the architecture's defaults, and the caller is told so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.models.module_logits import logits_fn_for
from alignjax.models.registry import architecture_input_shape, build_architecture
from alignjax.weights.errors import CheckpointMismatchError
from alignjax.weights.metadata import check_rebuild, infer_num_classes, jsonable, module_config, read_record
from alignjax.weights.quirks import prepare_state_dict
from alignjax.weights.readers import read_state_dict
from alignjax.weights.strict import check_against_module, expected_shapes, is_flax_state

__all__ = ["build_and_check", "is_flax_state", "load_weights_for_arch", "logits_fn_for"]


# input shapes tried when a checkpoint does not fit at the default one, to say which one it does fit
_PROBE_INPUT_SHAPES = ((32, 32, 3), (64, 64, 3), (28, 28, 1), (8, 8, 1), (96, 96, 3), (224, 224, 3),
                       (256, 256, 3), (299, 299, 3), (384, 384, 3))


def _fitting_input_shape(module: Any, flat: Mapping[str, np.ndarray], tried: tuple[int, ...]):
    """A common input shape at which ``flat`` fits ``module`` exactly, if the names already match."""
    if set(expected_shapes(module, tried)) != set(flat):  # another architecture, not another input size
        return None
    for shape in _PROBE_INPUT_SHAPES:
        if shape == tuple(tried):
            continue
        try:
            expected = expected_shapes(module, shape)
        except Exception:  # noqa: BLE001, S112 - a size this architecture cannot take at all (any error)
            continue
        if set(expected) == set(flat) and all(tuple(np.shape(flat[k])) == v for k, v in expected.items()):
            return shape
    return None


def _tuples(value: Any) -> Any:
    """JSON lists (from a record or the command line) as tuples, so the module stays hashable (jit)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def build_and_check(
    flat: Mapping[str, np.ndarray],
    arch: str,
    *,
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    dont_load: str | None = None,
    source: str = "checkpoint",
    shape_hint: str = "",
    **arch_kwargs: Any,
) -> tuple[Any, dict[str, Any], int | None, tuple[int, ...]]:
    """Builds ``arch`` for converted ``flat`` variables and checks them strictly.

    ``num_classes`` None: read off the variables (``metadata.infer_num_classes``); ``input_shape`` None:
    the architecture's registered input shape. Returns ``(module, variables, num_classes, input_shape)``.
    A mismatch that another common input shape would fix says so.
    """
    shape = tuple(input_shape) if input_shape is not None else architecture_input_shape(arch)
    arch_kwargs = {name: _tuples(value) for name, value in arch_kwargs.items()}  # hashable module fields
    if num_classes is None:
        num_classes = infer_num_classes(arch, flat, shape, arch_kwargs)
    kwargs = dict(arch_kwargs, **({"num_classes": num_classes} if num_classes is not None else {}))
    module = build_architecture(arch, **kwargs)
    try:
        variables = check_against_module(module, flat, shape, dont_load=dont_load, source=source)
    except CheckpointMismatchError as err:
        fits = _fitting_input_shape(module, flat, shape)
        if fits is None and not shape_hint:
            raise
        hint = shape_hint or (f"  the checkpoint fits input shape {','.join(map(str, fits))}, not "
                              f"{','.join(map(str, shape))}: pass --input-shape {','.join(map(str, fits))} "
                              f"(input_shape={fits} from Python)")
        raise CheckpointMismatchError(f"{err}\n{hint}") from None
    return module, variables, getattr(module, "num_classes", num_classes), shape


def load_weights_for_arch(
    path: str | Path,
    arch: str,
    *,
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    arch_kwargs: Mapping[str, Any] | None = None,
) -> tuple[Callable[[Any, Any], Any], dict[str, Any], dict[str, Any]]:
    """``(logits_fn, variables, info)`` for a weights file of ``arch``: converted or a PyTorch checkpoint.

    A file written by ``convert_checkpoint`` is rebuilt from its record (class count, builder options,
    normalisation); options given here must agree with it. Any other file gets the architecture's
    defaults with the class count read off the weights, and ``info['note']`` says so. ``input_shape``
    (the data's) is the size the weights are checked at.
    """
    path = Path(path)
    record = read_record(path)
    kwargs = dict(arch_kwargs or {})
    notes = []
    if record is not None:
        if record["arch"] != arch:
            raise CheckpointMismatchError(
                f"{path} holds {record['arch']} weights (its alignjax record says so), not {arch}; "
                f"pass --arch {record['arch']}")
        recorded = record.get("num_classes")
        if num_classes is not None and recorded is not None and int(recorded) != num_classes:
            raise CheckpointMismatchError(
                f"--num-classes {num_classes}, but {path} was converted for {recorded} classes")
        num_classes = num_classes if num_classes is not None else recorded
        for name, value in record["arch_kwargs"].items():
            if name in kwargs and jsonable(kwargs[name]) != value:
                raise CheckpointMismatchError(
                    f"{name}={kwargs[name]!r}, but {path} was converted with {value!r}")
            kwargs.setdefault(name, value)
    flat = prepare_state_dict(read_state_dict(path, strip=False), arch, source=str(path))
    recorded_shape = tuple(record["input_shape"]) if record and record.get("input_shape") else None
    hint = ""
    if recorded_shape is not None and input_shape is not None and tuple(input_shape) != recorded_shape:
        hint = (f"  {path} was converted for inputs of {'x'.join(map(str, recorded_shape))}; the data is "
                f"{'x'.join(map(str, input_shape))}")
    module, variables, classes, shape = build_and_check(
        flat, arch, num_classes=num_classes, input_shape=input_shape or recorded_shape, source=str(path),
        shape_hint=hint, **kwargs)
    if record is not None:
        check_rebuild(record, module, str(path))
    else:
        notes.append(f"{path} carries no alignjax record: {arch} built with its default options and "
                     f"{classes} classes read off the weights")
    info = {"arch": arch, "num_classes": classes, "arch_kwargs": jsonable(kwargs),
            "input_shape": list(shape), "module_config": module_config(module), "record": record is not None,
            "notes": notes}
    return logits_fn_for(module), variables, info
