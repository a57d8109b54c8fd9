"""The attack engine: how attacks (``alignjax.attacks.protocol.Attack``) are run over points.

* ``batching.py``: padding to fixed shapes, survivor buckets, device placement, out-of-memory detection;
* ``passes.py``: one attack over points: passes and segments with survivor compaction, re-verification,
  final draws of stochastic models, stacked checkpoints, out-of-memory back-off;
* ``state.py``: the resumable state of a cascade (``CascadeState``: ``record``, save, load);
* ``cascade.py``: the AutoAttack cascade (``run_cascade``, ``run_individual``, ``run_autoattack``).
"""
