"""Checkpoint readers (no torch), torch->flax key maps, strict checks and hub I/O."""
