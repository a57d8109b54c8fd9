"""timm ViT sizes beyond ViT-S/16 and ViT-B/16 (timm 1.0.31 ``vision_transformer.py``): ViT-B/32, ViT-B/16
at 384, ViT-L/16 at 224 and 384, ViT-L/32 at 384. Same code path as ``vit_base_patch16_224`` (the
family's default-run full-size comparison); only sizes, patches and input sizes differ."""

from __future__ import annotations

from tests.models.reference_builders import INCEPTION, from_timm

UPSTREAM = {
    "vit_base_patch32_224": from_timm("vit_base_patch32_224", *INCEPTION),
    "vit_base_patch16_384": from_timm("vit_base_patch16_384", *INCEPTION, input_size=384, slow=True),
    "vit_large_patch16_224": from_timm("vit_large_patch16_224", *INCEPTION, slow=True),
    "vit_large_patch16_384": from_timm("vit_large_patch16_384", *INCEPTION, input_size=384, slow=True),
    "vit_large_patch32_384": from_timm("vit_large_patch32_384", *INCEPTION, input_size=384, slow=True),
}

# the attackability test's ViT program (test_every_architecture_attackable._VIT): compiled once for all
_SMALL = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
SMALL = {arch: (_SMALL, (32, 32, 3)) for arch in UPSTREAM}

REAL_INPUT = {arch: (384, 384, 3) for arch in UPSTREAM if arch.endswith("_384")}

REAL_SIZE_SLOW = frozenset(UPSTREAM) - {"vit_base_patch32_224"}

# every variant's small model is the same program: one attack run covers them by default
ATTACK_SLOW = REAL_SIZE_SLOW
