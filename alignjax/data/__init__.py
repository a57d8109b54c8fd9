"""Datasets, preprocessing, stimulus sets and human data."""

from alignjax.data.arrays import (
    ArrayDataset,
    Dataset,
    ImageSource,
    Subset,
    check_fits_model,
    check_labels,
    first_n,
    load_npz,
)
from alignjax.data.cifar import load_cifar
from alignjax.data.hub_parquet import ParquetImageDataset, load_hub_parquet, read_parquet_images
from alignjax.data.human_trials import (
    CUE_CONFLICT_SCHEMA,
    TRIALS_SCHEMA,
    cue_conflict_stimulus_file,
    read_cue_conflict_trials,
    read_human_trials,
)
from alignjax.data.image_folder import FileDataset  # the function image_folder stays in its module
from alignjax.data.imagenet import (
    check_class_mapping,
    imagenet_class_to_index,
    imagenet_val,
    imagenet_wnids,
    robustbench_imagenet,
    robustbench_subset_ids,
)
from alignjax.data.preprocessing import (
    CorruptImageError,
    brainscore_images,
    brainscore_transform,
    center_crop,
    decode_image,
    place_on_screen,
    resize_shorter,
    robustbench_transform,
    spec_transform,
    to_float01,
    to_uint8,
)
from alignjax.data.stimuli import (
    ChecksumError,
    MissingStimuliError,
    fetch_stimuli,
    parse_cue_conflict_name,
    stimulus_dataset,
    stimulus_table,
)
from alignjax.data.streaming import Batch, stream_batches

__all__ = [
    "ArrayDataset",
    "Batch",
    "CUE_CONFLICT_SCHEMA",
    "ChecksumError",
    "CorruptImageError",
    "Dataset",
    "FileDataset",
    "ImageSource",
    "MissingStimuliError",
    "ParquetImageDataset",
    "Subset",
    "TRIALS_SCHEMA",
    "brainscore_images",
    "brainscore_transform",
    "center_crop",
    "check_class_mapping",
    "check_fits_model",
    "check_labels",
    "cue_conflict_stimulus_file",
    "decode_image",
    "fetch_stimuli",
    "first_n",
    "imagenet_class_to_index",
    "imagenet_val",
    "imagenet_wnids",
    "load_cifar",
    "load_hub_parquet",
    "load_npz",
    "parse_cue_conflict_name",
    "place_on_screen",
    "read_cue_conflict_trials",
    "read_human_trials",
    "read_parquet_images",
    "resize_shorter",
    "robustbench_imagenet",
    "robustbench_subset_ids",
    "robustbench_transform",
    "spec_transform",
    "stimulus_dataset",
    "stimulus_table",
    "stream_batches",
    "to_float01",
    "to_uint8",
]
