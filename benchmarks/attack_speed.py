"""Attack speed: alignjax (jitted) vs the PyTorch reference (pyautoattack 0.2.0), same machine, same run.

Workloads (``--workload``):
  * ``digits``: the embedded digits CNN on the 397 held-out digits (the CPU workload);
  * ``wrn28``: WideResNet-28-10 at CIFAR size (32 px, 10 classes, RobustBench layout), random weights;
  * ``resnet50``: torchvision ResNet-50 at 224 px (1000 classes), random weights.
The torch model is built first (seeded random init, eval mode) and converted with alignjax's own
converter, so both sides attack the same function. Labels are the model's own clean predictions, so
every point is attacked. Modes (``--mode``): ``all-robust`` (eps 1e-5: no point breaks, every point
pays for every iteration, restart, target and query, so both sides do the whole cascade's work) and
``mixed`` (an eps at which about half the points survive APGD-CE, found by a quick calibration with
alignjax's APGD-CE; both sides use it): there the time must fall with the survivors.

Prints, per attack and for the whole standard cascade, seconds of both sides, the speed-up
(reference / alignjax), images x iterations per second, robust accuracy of both, and the rates of a
bare jitted forward+backward (the limit an APGD iteration can reach) and forward (a Square query's
limit) of the same model and batch, with the same two rates of the reference's torch model.
alignjax is timed after a first, compiling call (its extra time is printed as "compile"). With
``--repeat N`` both sides run N times, alternated, and the medians are compared (this VM's timings
move by +-15 % between runs; the per-run speed-up range is printed). Peak device
memory is printed where the device reports it. ``--end-to-end`` times instead the whole command,
``alignjax attack`` in fresh processes, cold and with a filled compilation cache (attack_end_to_end.py).

    python benchmarks/attack_speed.py --workload digits                       # CPU
    python benchmarks/attack_speed.py --workload wrn28 --device cuda --n 1000 --batch-size 500
    python benchmarks/attack_speed.py --workload resnet50 --device cuda --n 256 --batch-size 128 \\
        --precision fp32,bf16 --mode all-robust,mixed --json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from alignjax.attacks import presets
from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.models import build_architecture
from alignjax.models.precision import with_compute_dtype
from alignjax.weights.convert import convert_state_dict, logits_fn_for

TINY_EPS = 1e-5
ITERATIONS = {"apgd-ce": 100, "apgd-t": 9 * 100, "fab-t": 9 * 100, "square": 5000}  # per surviving point


def build_workload(name: str, n: int, seed: int, smoke: bool = False):
    """(torch model, flax logits_fn, variables, x (n, h, w, c) in [0, 1])."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if name == "digits":
        from alignjax.data.digits import digits_split
        from alignjax.models import load_embedded

        sys.path.insert(0, str(REPO / "tests"))
        from torch_twins import digits_cnn_torch

        logits_fn, variables = load_embedded()
        x = np.asarray(digits_split("test").x)[:n]
        return digits_cnn_torch(variables), logits_fn, variables, x
    if name == "wrn28":
        from torch_models import WideResNet

        depth, widen = (10, 1) if smoke else (28, 10)
        model, size = WideResNet(depth=depth, widen_factor=widen), 32
        arch, kwargs = "wrn_28_10", {"num_classes": 10, "depth": depth, "widen_factor": widen}
    elif name == "resnet50":
        from torch_models import torchvision_resnet50

        model, arch, kwargs, size = torchvision_resnet50(), "resnet50", {"num_classes": 1000}, 64 if smoke else 224
    else:
        raise SystemExit(f"unknown workload {name!r}")
    model = model.eval()
    with torch.no_grad():  # randomised BatchNorm statistics, so eval mode is not the identity
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    inner = getattr(model, "model", model)  # torchvision's ResNet-50 inside its normalisation wrapper
    state = {k: v.detach().cpu().numpy() for k, v in inner.state_dict().items()}
    variables = convert_state_dict(state, arch, input_shape=(size, size, 3), **kwargs)
    x = rng.uniform(0, 1, size=(n, size, size, 3)).astype(np.float32)
    return model, logits_fn_for(build_architecture(arch, **kwargs)), variables, x


def bare_step_seconds(logits_fn, variables, x, y, repeat: int = 5) -> float:
    """One jitted forward+backward (input gradient of the summed cross-entropy) on one batch."""

    @jax.jit
    def grad(params, images, labels):
        def loss(z):
            logits = logits_fn(params, z).astype(jnp.float32)
            return -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels])

        return jax.grad(loss)(images)

    xb, yb = jax.device_put(x), jax.device_put(y)
    grad(variables, xb, yb).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeat):
        out = grad(variables, xb, yb)
    out.block_until_ready()
    return (time.perf_counter() - start) / repeat


def bare_forward_seconds(logits_fn, variables, x, repeat: int = 5) -> float:
    """One jitted forward pass on one batch (the limit of a Square query)."""
    forward = jax.jit(logits_fn)
    xb = jax.device_put(x)
    forward(variables, xb).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeat):
        out = forward(variables, xb)
    out.block_until_ready()
    return (time.perf_counter() - start) / repeat


def torch_bare_seconds(model, x, y, device, repeat: int = 5) -> tuple[float, float]:
    """(forward, forward+backward) seconds of the reference's torch model on one batch, the same
    two limits on the reference's side (input gradient of the summed cross-entropy, as APGD-CE)."""
    import torch

    model = model.to(device)
    xt = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))).to(device)
    yt = torch.from_numpy(y.astype(np.int64)).to(device)

    def timed(step) -> float:
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeat):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / repeat

    def forward():
        with torch.no_grad():
            return model(xt)

    def forward_backward():
        z = xt.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(z), yt, reduction="sum")
        return torch.autograd.grad(loss, z)[0]

    return timed(forward), timed(forward_backward)


def run_ours(logits_fn, variables, x, y, attacks, batch_size) -> tuple[float, float]:
    """(seconds, robust accuracy) of one alignjax run of ``attacks``."""
    kwargs = {"attacks": tuple(attacks), "key": jax.random.key(0), "batch_size": batch_size, "run_checks": False}
    start = time.perf_counter()
    result = run_autoattack(logits_fn, variables, x, y, **kwargs)
    return time.perf_counter() - start, result.robust_accuracy


def run_reference(model, x, y, norm, eps, names, batch_size, device):
    import torch
    from pyautoattack import AutoAttack

    xt = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))).to(device)
    yt = torch.from_numpy(y.astype(np.int64)).to(device)
    aa = AutoAttack(model.to(device), norm=norm, eps=eps, version="standard", seed=0, device=device)
    if names is not None:
        aa.attacks_to_run = list(names)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    _, y_adv = aa.run_standard_evaluation(xt, yt, batch_size=batch_size)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, float((y_adv == yt).float().mean() * 100)


def calibrate_mixed_eps(logits_fn, variables, x, y, norm, batch_size) -> float:
    """An eps at which about half the points survive a short APGD-CE (geometric bisection)."""
    lo, hi = 1e-5, 0.3
    subset = min(len(x), 64)
    for _ in range(8):
        eps = float(np.sqrt(lo * hi))
        result = run_autoattack(logits_fn, variables, x[:subset], y[:subset],
                                attacks=(APGDConfig(norm, eps, n_iter=20),), key=jax.random.key(0),
                                batch_size=min(batch_size, subset), run_checks=False)
        if abs(result.robust_accuracy - 50) < 10:
            return eps
        lo, hi = (eps, hi) if result.robust_accuracy > 50 else (lo, eps)
    return eps


def peak_memory() -> str:
    stats = [d.memory_stats() or {} for d in jax.local_devices()]
    peaks = [s.get("peak_bytes_in_use") for s in stats if s.get("peak_bytes_in_use")]
    return f"{max(peaks) / 2**30:.2f} GiB" if peaks else "n/a (not reported by this device)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="digits", choices=("digits", "wrn28", "resnet50"))
    parser.add_argument("--n", type=int, help="points (default: digits 397, wrn28 1000, resnet50 256)")
    parser.add_argument("--batch-size", type=int, help="default: digits 400, wrn28 500, resnet50 128")
    parser.add_argument("--norm", default="Linf", choices=("Linf", "L2", "L1"))
    parser.add_argument("--mode", default="all-robust", help="comma list of all-robust, mixed")
    parser.add_argument("--precision", default="fp32", help="comma list of fp32, bf16 (alignjax's model dtype)")
    parser.add_argument("--attacks", default="apgd-ce,apgd-t,fab-t,square", help="per-attack timings ('' for none)")
    parser.add_argument("--no-cascade", action="store_true", help="skip the end-to-end standard cascade")
    parser.add_argument("--no-reference", action="store_true", help="time alignjax only")
    parser.add_argument("--device", default="cpu", help="torch device of the reference: cpu or cuda")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs per side, alternated (medians are reported, and the range of the "
                             "per-run speed-ups); alignjax's compiling first call is not counted")
    parser.add_argument("--budget-s", type=float, help="start no further row after this many seconds (device leases)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny models (WRN-10-1, ResNet-50 at 64 px) to check "
                                                             "that the script runs, on a CPU")
    parser.add_argument("--end-to-end", action="store_true",
                        help="only time `alignjax attack` end to end in fresh processes, cold and with a "
                        "filled compilation cache (digits; attack_end_to_end.py)")
    args = parser.parse_args()
    if args.end_to_end:
        from attack_end_to_end import attack_argv, report

        if args.workload != "digits":
            raise SystemExit("--end-to-end runs the CLI's embedded digits model: use --workload digits")
        report(attack_argv(args.n, args.batch_size, []), args.repeat)
        return
    started = time.perf_counter()
    defaults = {"digits": (397, 400), "wrn28": (1000, 500), "resnet50": (256, 128)}[args.workload]
    n, batch_size = args.n or defaults[0], args.batch_size or defaults[1]

    import torch

    torch.backends.cuda.matmul.allow_tf32 = True  # torch's default for convolutions; fp32 on both sides
    torch.backends.cudnn.allow_tf32 = True
    model, logits32, variables, x = build_workload(args.workload, n, seed=0, smoke=args.smoke)
    variables = jax.device_put(variables)
    y = np.asarray(jax.jit(logits32)(variables, x)).argmax(1).astype(np.int32)
    print(f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | jax {jax.__version__} on "
          f"{jax.devices()[0].device_kind} x{jax.local_device_count()} | torch {torch.__version__} on {args.device} | "
          f"{args.workload}, n={n}, batch {batch_size}, {args.norm}", flush=True)
    rows = []
    for mode in args.mode.split(","):
        eps = TINY_EPS if mode == "all-robust" else calibrate_mixed_eps(logits32, variables, x, y, args.norm, batch_size)
        configs = {c.name: c for c in presets.standard(args.norm, eps)}
        for precision in args.precision.split(","):
            logits_fn = with_compute_dtype(logits32, precision)
            bare = bare_step_seconds(logits_fn, variables, x[:batch_size], y[:batch_size])
            bare_forward = bare_forward_seconds(logits_fn, variables, x[:batch_size])
            torch_forward, torch_bare = (float("nan"),) * 2
            if not args.no_reference and precision == args.precision.split(",")[0]:
                torch_forward, torch_bare = torch_bare_seconds(model, x[:batch_size], y[:batch_size], args.device)
            print(f"\n## mode {mode} (eps {eps:.3g}), alignjax {precision}; bare jitted fwd+bwd: "
                  f"{batch_size / bare:,.0f} img/s, fwd: {batch_size / bare_forward:,.0f} img/s | reference's "
                  f"torch model fwd+bwd: {batch_size / torch_bare:,.0f} img/s, "
                  f"fwd: {batch_size / torch_forward:,.0f} img/s", flush=True)
            print(f"{'run':9} {'alignjax s':>10} {'compile s':>9} {'reference s':>11} {'speed-up':>8} "
                  f"{'per-run':>11} {'ours img*it/s':>13} {'vs bare':>7}  robust% ours/ref", flush=True)
            # The cascade first: it compiles every program the single attacks use (same configs, shapes).
            names = ([] if args.no_cascade else ["cascade"]) + [a for a in args.attacks.split(",") if a]
            for name in names:
                if args.budget_s and time.perf_counter() - started > args.budget_s:
                    print(f"{name:9} skipped: --budget-s {args.budget_s:g} spent", flush=True)
                    continue
                attacks = list(configs.values()) if name == "cascade" else [configs[name]]
                first, acc = run_ours(logits_fn, variables, x, y, attacks, batch_size)  # compiles
                with_reference = not args.no_reference and precision == args.precision.split(",")[0]
                ours_runs, ref_runs, ref_acc = [], [], float("nan")
                for _ in range(args.repeat):  # alternated, so that both sides see the same machine
                    ours_runs.append(run_ours(logits_fn, variables, x, y, attacks, batch_size)[0])
                    if with_reference:
                        seconds, ref_acc = run_reference(model, x, y, args.norm, eps,
                                                         None if name == "cascade" else [name], batch_size, args.device)
                        ref_runs.append(seconds)
                ours = float(np.median(ours_runs))
                ref = float(np.median(ref_runs)) if ref_runs else float("nan")
                compile_s = first - ours
                iters = ITERATIONS.get(name)
                rate = n * iters / ours if iters and mode == "all-robust" else float("nan")
                vs_bare = (batch_size / bare) / rate if not math.isnan(rate) else float("nan")
                ratios = [r / o for r, o in zip(ref_runs, ours_runs)]
                spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if len(ratios) > 1 else ""
                print(f"{name:9} {ours:10.2f} {compile_s:9.2f} {ref:11.2f} {ref / ours:7.2f}x {spread:>11} "
                      f"{rate:13,.0f} {vs_bare:6.2f}x  {acc:.2f}/{ref_acc:.2f}", flush=True)
                rows.append({"workload": args.workload, "mode": mode, "eps": eps, "precision": precision, "run": name,
                                 "alignjax_s": ours, "compile_s": compile_s, "reference_s": ref, "speedup": ref / ours,
                                 "alignjax_runs": ours_runs, "reference_runs": ref_runs,
                                 "img_it_per_s": rate, "bare_img_per_s": batch_size / bare,
                                 "bare_forward_img_per_s": batch_size / bare_forward,
                                 "torch_bare_img_per_s": batch_size / torch_bare,
                                 "torch_forward_img_per_s": batch_size / torch_forward, "robust_ours": acc,
                                 "robust_reference": ref_acc})
                if args.json:  # after every row, so that a run stopped by a time limit keeps what it measured
                    args.json.write_text(json.dumps(rows, indent=1))
    print(f"\npeak device memory (alignjax): {peak_memory()}")


if __name__ == "__main__":
    main()
