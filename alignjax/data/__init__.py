"""Datasets, preprocessing, stimulus sets and human data.

Names are imported on first use (PEP 562), so ``import alignjax.data.digits`` (or the GPU image,
which lacks polars) does not pull in polars, PIL or the hub client. No submodule shares a name with an
exported function (``from alignjax.data import image_folder`` is the loader; its module is ``folders``).

The one call for attacks: ``attack_data(source, preprocessing=..., num_classes=...)`` returns images and
labels for ``alignjax.attacks.run_autoattack`` (see ``attack_input.py``).
"""

from __future__ import annotations

from alignjax.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ArrayDataset": "alignjax.data.arrays",
    "AttackData": "alignjax.data.attack_input",
    "Batch": "alignjax.data.streaming",
    "CUE_CONFLICT_SCHEMA": "alignjax.data.human_trials",
    "ChecksumError": "alignjax.data.stimuli",
    "CorruptImageError": "alignjax.data.preprocessing",
    "Dataset": "alignjax.data.arrays",
    "FileDataset": "alignjax.data.folders",
    "ImageSource": "alignjax.data.arrays",
    "MissingStimuliError": "alignjax.data.stimuli",
    "PREPROCESSING_NAMES": "alignjax.data.named_preprocessing",
    "ParquetImageDataset": "alignjax.data.hub_parquet",
    "StreamedImages": "alignjax.data.attack_input",
    "Subset": "alignjax.data.arrays",
    "TRIALS_SCHEMA": "alignjax.data.human_trials",
    "attack_data": "alignjax.data.attack_input",
    "brainscore_images": "alignjax.data.preprocessing",
    "brainscore_transform": "alignjax.data.preprocessing",
    "center_crop": "alignjax.data.preprocessing",
    "check_class_mapping": "alignjax.data.imagenet",
    "check_fits_model": "alignjax.data.arrays",
    "check_labels": "alignjax.data.arrays",
    "cue_conflict_stimulus_file": "alignjax.data.human_trials",
    "decode_image": "alignjax.data.preprocessing",
    "fetch_stimuli": "alignjax.data.stimuli",
    "first_n": "alignjax.data.arrays",
    "host_batches": "alignjax.data.streaming",
    "image_folder": "alignjax.data.folders",
    "imagenet_class_to_index": "alignjax.data.imagenet",
    "imagenet_val": "alignjax.data.imagenet",
    "imagenet_wnids": "alignjax.data.imagenet",
    "labelled_folder": "alignjax.data.flat_folder",
    "labels_of": "alignjax.data.arrays",
    "load_cifar": "alignjax.data.cifar",
    "load_cue_conflict_trials": "alignjax.data.human_trials",
    "load_hub_parquet": "alignjax.data.hub_parquet",
    "load_human_trials": "alignjax.data.human_trials",
    "load_image_brainscore": "alignjax.data.preprocessing",
    "load_npz": "alignjax.data.npz",
    "named_transform": "alignjax.data.named_preprocessing",
    "open_dataset": "alignjax.data.sources",
    "parse_cue_conflict_name": "alignjax.data.stimuli",
    "place_on_screen": "alignjax.data.preprocessing",
    "prepare_for_attack": "alignjax.data.attack_input",
    "read_cue_conflict_trials": "alignjax.data.human_trials",
    "read_human_trials": "alignjax.data.human_trials",
    "read_parquet_images": "alignjax.data.hub_parquet",
    "resize_shorter": "alignjax.data.preprocessing",
    "robustbench_imagenet": "alignjax.data.imagenet",
    "robustbench_subset_ids": "alignjax.data.imagenet",
    "robustbench_transform": "alignjax.data.preprocessing",
    "spec_transform": "alignjax.data.preprocessing",
    "stimulus_dataset": "alignjax.data.stimuli",
    "stimulus_table": "alignjax.data.stimuli",
    "stream_batches": "alignjax.data.streaming",
    "to_float01": "alignjax.data.preprocessing",
    "to_uint8": "alignjax.data.preprocessing",
}

lazy_exports(__name__, _EXPORTS, globals())  # __getattr__, __dir__ and __all__
