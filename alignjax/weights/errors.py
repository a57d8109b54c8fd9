"""The errors a checkpoint reader raises: one family, ``CheckpointError`` (a ``ValueError``).

Every reader (``readers``, ``torch_archive``, ``torch_pickle``, ``strict``) turns whatever goes wrong
with a file into one of these, with a message that names the file and the problem; anything else
escaping a reader is a bug (``tests/weights/test_reader_fuzz.py`` checks this on random and mutated
files). ``UnsafeCheckpointError`` is also a ``pickle.UnpicklingError``, as code written against
``torch.load(weights_only=True)`` expects.
"""

from __future__ import annotations

import pickle


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says which file and why."""


class CheckpointFormatError(CheckpointError):
    """The file is corrupt, truncated or not a checkpoint this reader understands."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The pickle names a global outside the allowlist; nothing it names was called."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the architecture; the message lists every difference."""
