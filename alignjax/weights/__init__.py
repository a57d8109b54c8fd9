"""Checkpoint readers (no torch), torch->flax key maps, strict checks, hub and URL downloads.

Names are imported on first use (PEP 562), so ``alignjax.weights.download`` (used by the stimulus
fetcher) does not pull in the Flax model zoo.
"""

from __future__ import annotations

from alignjax.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "CheckpointError": "alignjax.weights.errors",
    "convert_checkpoint": "alignjax.weights.convert",
    "convert_state_dict": "alignjax.weights.convert",
    "list_models": "alignjax.weights.convert",
    "load_model": "alignjax.weights.convert",
    "load_weights_for_arch": "alignjax.weights.rebuild",
    "read_state_dict": "alignjax.weights.readers",
}

lazy_exports(__name__, _EXPORTS, globals())
