"""Behavioural and engineering benchmarks of the paper's leaderboard (Brain-Score vision), on real stimuli
and real human data.

- ``imagenet16``: 16-class (and extended) label decisions from ImageNet-1k logits (model-vs-human).
- ``shape_bias``, ``error_consistency``: the Geirhos metrics on decision tables.
- ``geirhos2021``: accuracy and error consistency against the shipped human trials, ceiled as Brain-Score.
- ``hermann2020``: shape match and shape bias on cue-conflict stimuli.
- ``rajalingham2018``: i1n/i2n with a logistic-regression readout and normalised d'.
- ``baker2022``: whole vs fragmented/Frankenstein silhouettes, accuracy delta against humans.
- ``engineering``: ImageNet top-1 and ImageNet-C.
- ``suite``: runs them for one model and returns long-format scores (``scores.SCORES_SCHEMA``).
"""
