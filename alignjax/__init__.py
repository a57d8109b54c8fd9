"""alignjax: are vision models that align better with human vision also more robust? On XLA."""

__version__ = "0.1.0"
