"""timm's ImageNet fine-tunes of CLIP image towers (timm 1.0.31 ``vision_transformer.py``
``vit_*_clip_*``: ``pre_norm=True`` adds ``norm_pre``, the patch embedding has no bias, LayerNorm eps
1e-5): ViT-B/16, ViT-B/32, ViT-L/14 at 224 and 336, ViT-H/14."""

from __future__ import annotations

from tests.models import helpers
from tests.models.reference_builders import INCEPTION, from_timm

OPENAI = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))

UPSTREAM = {
    "vit_base_patch32_clip_224": from_timm("vit_base_patch32_clip_224", *OPENAI),
    "vit_base_patch16_clip_224": from_timm("vit_base_patch16_clip_224", *OPENAI, slow=True),
    "vit_large_patch14_clip_224": from_timm("vit_large_patch14_clip_224", *INCEPTION, slow=True),
    "vit_large_patch14_clip_336": from_timm("vit_large_patch14_clip_336", *INCEPTION, input_size=336, slow=True),
    "vit_huge_patch14_clip_224": from_timm("vit_huge_patch14_clip_224", *OPENAI, slow=True),
}

# one small program for every CLIP variant: their registered mean/std differ, so they are fixed here
_SMALL = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2,
          "mean": helpers.IMAGENET_MEAN, "std": helpers.IMAGENET_STD}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_INPUT = {"vit_large_patch14_clip_336": (336, 336, 3)}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"vit_base_patch32_clip_224"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
