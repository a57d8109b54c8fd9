"""Attack speed: alignjax (jitted) vs the PyTorch reference (pyautoattack 0.2.0), same machine, same run.

Workload (gpu-anchors.md's fair-timing recipe): the embedded digits CNN and the 397 held-out digits,
with a tiny eps (1e-5) so that no point breaks and every point pays for every iteration/query. Each
attack runs with the standard version's settings. alignjax is timed after one warm-up call (compile
time is printed separately); the reference runs through ``AutoAttack(version='custom')`` with
``seed=0`` on torch CPU (or CUDA when --device cuda and available).

    python benchmarks/attack_speed.py [--norm Linf] [--attacks apgd-ce,apgd-t,fab-t,square] [--repeat 1]

Prints one line per attack: seconds for both, and the speed ratio reference/alignjax.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alignjax.attacks import presets  # noqa: E402
from alignjax.attacks.autoattack import run_autoattack  # noqa: E402
from alignjax.data.digits import digits_split  # noqa: E402
from alignjax.models import load_embedded  # noqa: E402

EPS = 1e-5


def time_ours(cfg, logits_fn, variables, x, y, batch_size, repeat):
    kwargs = dict(attacks=(cfg,), key=jax.random.key(0), batch_size=batch_size, run_checks=False)
    start = time.perf_counter()
    run_autoattack(logits_fn, variables, x, y, **kwargs)  # compile + run
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_autoattack(logits_fn, variables, x, y, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), first - min(times), result.robust_accuracy


def time_reference(name, norm, x, y, variables, batch_size, device):
    import torch
    from pyautoattack import AutoAttack

    sys.path.insert(0, str(REPO / "tests"))
    from torch_twins import digits_cnn_torch, nhwc_to_nchw

    model = digits_cnn_torch(variables).to(device)
    xt, yt = nhwc_to_nchw(x).to(device), torch.from_numpy(y.astype(np.int64)).to(device)
    aa = AutoAttack(model, norm=norm, eps=EPS, version="standard", seed=0, device=device)
    aa.attacks_to_run = [name]
    start = time.perf_counter()
    _, y_adv = aa.run_standard_evaluation(xt, yt, batch_size=batch_size)
    seconds = time.perf_counter() - start
    return seconds, float((y_adv == yt).float().mean() * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norm", default="Linf", choices=("Linf", "L2", "L1"))
    parser.add_argument("--attacks", default="apgd-ce,apgd-t,fab-t,square")
    parser.add_argument("--batch-size", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    logits_fn, variables = load_embedded()
    test = digits_split("test")
    configs = {c.name: c for c in presets.standard(args.norm, EPS)}
    print(f"# {time.strftime('%Y-%m-%d')} | {platform.processor() or platform.machine()} | "
          f"jax {jax.__version__} on {jax.devices()[0].device_kind} | torch {torch.__version__} on {args.device} | "
          f"digits CNN, n={len(test.y)}, {args.norm} eps={EPS}")
    print(f"{'attack':8} {'alignjax s':>10} {'compile s':>9} {'reference s':>11} {'speed-up':>8}  robust% (ours/ref)")
    for name in args.attacks.split(","):
        ours, compile_s, acc = time_ours(configs[name], logits_fn, variables, test.x, test.y, args.batch_size,
                                         args.repeat)
        ref, ref_acc = time_reference(name, args.norm, test.x, test.y, variables, args.batch_size, args.device)
        print(f"{name:8} {ours:10.2f} {compile_s:9.2f} {ref:11.2f} {ref / ours:7.2f}x  {acc:.2f}/{ref_acc:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
