"""timm ConvNeXt-L, -XL, the LAION CLIP towers' ConvNeXt-L with an MLP head (``convnext_large_mlp``,
``head_hidden_size=1536``) and ConvNeXt-XXL (LayerNorm eps 1e-5), timm 1.0.31 ``convnext.py``.

All full-size comparisons are slow (each is 0.2-0.85 G parameters): the family's default-run one is
``convnext_tiny``; the hidden head layer and the eps are compared with timm on small models by default
(``test_convnext.py``)."""

from __future__ import annotations

from tests.models.families.clip import OPENAI
from tests.models.reference_builders import IMAGENET, from_timm

UPSTREAM = {
    "convnext_large": from_timm("convnext_large", *IMAGENET, slow=True),
    "convnext_xlarge": from_timm("convnext_xlarge", *IMAGENET, slow=True),
    "convnext_large_mlp": from_timm("convnext_large_mlp", *OPENAI, slow=True),
    "convnext_xxlarge": from_timm("convnext_xxlarge", *OPENAI, slow=True),
}

# convnext_large/xlarge: the same program as convnext_tiny's (test_every_architecture_attackable._CONVNEXT)
_SMALL = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}
SMALL = {
    "convnext_large": (_SMALL, (32, 32, 3)),
    "convnext_xlarge": (_SMALL, (32, 32, 3)),
    "convnext_large_mlp": ({**_SMALL, "head_hidden_size": 16}, (32, 32, 3)),
    "convnext_xxlarge": (_SMALL, (32, 32, 3)),
}

# convnext_large_mlp.clip_laion2b_augreg_ft_in1k_384 (other tags: 256 and 320)
REAL_INPUT = {"convnext_large_mlp": (384, 384, 3)}

REAL_SIZE_SLOW = frozenset(UPSTREAM)
