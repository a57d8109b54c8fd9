"""Checkpoint readers (no torch), torch->flax key maps, strict checks and hub I/O."""

from alignjax.weights.convert import convert_checkpoint, convert_state_dict, list_models, load_model
from alignjax.weights.readers import read_state_dict

__all__ = ["convert_checkpoint", "convert_state_dict", "list_models", "load_model", "read_state_dict"]
