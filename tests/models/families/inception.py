"""GoogLeNet and Inception-v3 (torchvision 0.28.0 ``googlenet.py`` / ``inception.py``), built as torchvision
builds them for its pretrained weights: ``transform_input=True``, no auxiliary heads (torchvision drops
GoogLeNet's after loading; Inception-v3's never run in eval mode)."""

from __future__ import annotations

from tests.models import helpers
from tests.models.reference_builders import Reference


def _torchvision(name: str, input_size: int, slow: bool) -> Reference:
    options = {"aux_logits": False, "transform_input": True, "init_weights": False}
    return Reference(
        build=lambda: getattr(helpers.torchvision_models(), name)(**options),
        source=f"torchvision.models.{name}(aux_logits=False, transform_input=True, init_weights=False)",
        input_size=input_size,
        mean=helpers.IMAGENET_MEAN,
        std=helpers.IMAGENET_STD,
        slow=slow,
    )


UPSTREAM = {
    "googlenet": _torchvision("googlenet", 224, slow=False),
    "inception_v3": _torchvision("inception_v3", 299, slow=True),
}

SMALL = {
    "googlenet": ({"width_divisor": 8}, (32, 32, 3)),
    "inception_v3": ({"width_divisor": 16}, (75, 75, 3)),
}

REAL_INPUT = {"inception_v3": (299, 299, 3)}

# with random weights and BatchNorm statistics the small GoogLeNet's logits move ~3e-4 across inputs
# against a 1.5e-2 margin (also at 64 and 96 px, width 1/4, without transform_input), so 3 attack steps
# flip nothing; its attack run still checks jit, finite non-zero gradients, the eps ball and the box
UNBREAKABLE_WHEN_RANDOM = frozenset({"googlenet"})

REAL_SIZE_SLOW = frozenset({"inception_v3"})
