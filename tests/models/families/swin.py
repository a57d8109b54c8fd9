"""timm Swin Transformers (Liu et al. 2021), timm 1.0.31 ``swin_transformer.py``: Swin-T/S/B/L with
7x7 windows at 224 px and Swin-B with 12x12 windows at 384 px.

Only ``swin_tiny_patch4_window7_224`` runs its full-size comparison by default; the others share its
code path (same blocks, converter and key names) and differ in widths, depths, heads, window and input
size, which the default run checks through the full-size parameter counts (``test_upstream.py``) and
small timm models (``test_swin.py``)."""

from __future__ import annotations

from tests.models.reference_builders import IMAGENET, from_timm

UPSTREAM = {
    "swin_tiny_patch4_window7_224": from_timm("swin_tiny_patch4_window7_224", *IMAGENET),
    "swin_small_patch4_window7_224": from_timm("swin_small_patch4_window7_224", *IMAGENET, slow=True),
    "swin_base_patch4_window7_224": from_timm("swin_base_patch4_window7_224", *IMAGENET, slow=True),
    "swin_base_patch4_window12_384": from_timm(
        "swin_base_patch4_window12_384", *IMAGENET, input_size=384, slow=True
    ),
    "swin_large_patch4_window7_224": from_timm("swin_large_patch4_window7_224", *IMAGENET, slow=True),
}

# one program for all: an 8x8 patch grid in 2x2 windows of 4 (stage 0 shifts and masks), then 4x4 in one
SMALL_OPTIONS = {"img_size": 32, "embed_dim": 16, "depths": (2, 2), "num_heads": (1, 2), "window_size": 4}
SMALL = {arch: (SMALL_OPTIONS, (32, 32, 3)) for arch in UPSTREAM}

REAL_INPUT = {"swin_base_patch4_window12_384": (384, 384, 3)}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"swin_tiny_patch4_window7_224"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
