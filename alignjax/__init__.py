"""alignjax: are vision models that align better with human vision also more robust? On XLA.

Public API: ``alignjax.attacks`` (AutoAttack), ``alignjax.models`` (Flax zoo and registry),
``alignjax.weights`` (torch-free checkpoint conversion and hub), ``alignjax.data`` (datasets,
preprocessing, stimuli, human trials).
"""

__version__ = "0.1.0"
