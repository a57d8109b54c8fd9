"""Checkpoint readers (no torch), torch->flax key maps, strict checks and hub I/O."""

from alignjax.weights.convert import convert_checkpoint, convert_state_dict, list_models, load_model
from alignjax.weights.errors import CheckpointError
from alignjax.weights.readers import read_state_dict
from alignjax.weights.rebuild import load_weights_for_arch

__all__ = ["CheckpointError", "convert_checkpoint", "convert_state_dict", "list_models", "load_model",
           "load_weights_for_arch", "read_state_dict"]
