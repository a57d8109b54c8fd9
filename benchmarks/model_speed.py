"""Model speed: alignjax's Flax port vs the upstream torch module, forward and forward+backward, same run.

An attack's cost is its model's forward+backward with respect to the input (APGD, FAB) or forward
(Square); on a CPU this is where XLA's convolutions decide the speed (``alignjax/models/fast_conv.py``).
For each architecture this builds the upstream module the tests compare with (torchvision 0.28.0 /
timm, ``tests/models/references.py``; random init, eval mode) and alignjax's registered module with
seeded random variables (speed does not depend on the weights), and times on the same batch:

  * forward: a jitted ``apply`` vs ``model(x)`` under ``torch.no_grad()``;
  * forward+backward: the input gradient of the summed cross-entropy (what APGD-CE takes) vs
    ``torch.autograd.grad`` of the same loss.

alignjax is timed after a compiling call, torch after a warm-up call; each figure is the best of
``--repeat`` calls. The ratio is torch's time over alignjax's (above 1: alignjax is faster). Run from the
repository root with the test extra installed:

    python benchmarks/model_speed.py                                   # ResNet-50, ConvNeXt-T, ViT-B/16
    python benchmarks/model_speed.py --archs resnet50 --batch 32 --json model_speed.json
    python benchmarks/model_speed.py --per-family --json families.json  # one architecture per family

``--per-family`` takes, for every family of the registry's ImageNet models, its smallest architecture with
an upstream reference (fewest parameters), at that architecture's own input size.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert_speed import best_of  # benchmarks/ is sys.path[0] when run as a script

from alignjax.models.registry import build_architecture
from tests.models import helpers
from tests.models.references import UPSTREAM

DEFAULT_ARCHS = ("resnet50", "convnext_tiny", "vit_base_patch16_224")


def one_per_family() -> list[str]:
    """The smallest architecture (by parameter count) of each ImageNet family in the registry that has an
    upstream reference, in family order."""
    from alignjax.models import MODELS
    from tests.models.helpers import flax_parameter_count

    archs_by_family: dict[str, set[str]] = {}
    for spec in MODELS.values():
        if spec.num_classes == 1000 and spec.arch in UPSTREAM:
            archs_by_family.setdefault(spec.family, set()).add(spec.arch)
    chosen = []
    for family in sorted(archs_by_family):
        sizes = {arch: flax_parameter_count(build_architecture(arch, num_classes=1000),
                                            (UPSTREAM[arch].input_size, UPSTREAM[arch].input_size, 3))
                 for arch in sorted(archs_by_family[family])}
        chosen.append(min(sizes, key=sizes.get))
    return chosen


def alignjax_steps(arch: str, x: np.ndarray, y: np.ndarray):
    module = build_architecture(arch, num_classes=1000)
    variables = jax.device_put(helpers.random_variables(module, x.shape[1:], seed=0))  # on the device once
    logits_fn = functools.partial(module.apply, train=False)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    forward = jax.jit(logits_fn)

    def loss(params, images):
        logits = logits_fn(params, images)
        return -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), yj[:, None], axis=1))

    input_gradient = jax.jit(jax.grad(loss, argnums=1))
    return (lambda: forward(variables, xj).block_until_ready()), (
        lambda: input_gradient(variables, xj).block_until_ready())


def torch_steps(arch: str, x: np.ndarray, y: np.ndarray):
    import torch

    model = UPSTREAM[arch].build().eval()
    reference = UPSTREAM[arch]
    if reference.mean is not None:
        x = helpers.normalized(x, reference.mean, reference.std)
    xt, yt = helpers.nchw(x), torch.from_numpy(y.astype(np.int64))

    def forward():
        with torch.no_grad():
            model(xt)

    def forward_backward():
        z = xt.clone().requires_grad_(True)
        torch.autograd.grad(torch.nn.functional.cross_entropy(model(z), yt, reduction="sum"), z)

    return forward, forward_backward


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default=",".join(DEFAULT_ARCHS),
                        help="comma-separated names from tests/models/references.py UPSTREAM")
    parser.add_argument("--per-family", action="store_true",
                        help="one architecture per registry family (the smallest), at its own input size")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=None, help="input side (default: each reference's, 224)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    import torch

    archs = one_per_family() if args.per_family else [a for a in args.archs.split(",") if a]
    unknown = sorted(set(archs) - set(UPSTREAM))
    if unknown:
        parser.error(f"no upstream reference for {unknown}; choose from {sorted(UPSTREAM)}")
    print(f"{platform.processor() or platform.machine()}, {jax.devices()[0].device_kind} | jax {jax.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads) | batch {args.batch}, best of {args.repeat}")
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'architecture':<32} {'px':>4} {'pass':<17} {'alignjax ms':>12} {'torch ms':>10} {'torch / alignjax':>17}")
    for arch in archs:
        size = args.size or UPSTREAM[arch].input_size
        x = rng.uniform(size=(args.batch, size, size, 3)).astype(np.float32)
        y = rng.integers(0, 1000, size=args.batch).astype(np.int32)
        ours, theirs = alignjax_steps(arch, x, y), torch_steps(arch, x, y)
        for name, mine, reference in zip(("forward", "forward+backward"), ours, theirs, strict=True):
            a, t = best_of(mine, args.repeat), best_of(reference, args.repeat)
            rows.append({"arch": arch, "pass": name, "alignjax_ms": 1e3 * a, "torch_ms": 1e3 * t, "ratio": t / a,
                         "batch": args.batch, "size": size})
            print(f"{arch:<32} {size:>4} {name:<17} {1e3 * a:12.1f} {1e3 * t:10.1f} {t / a:16.2f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"jax": jax.__version__, "torch": torch.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
