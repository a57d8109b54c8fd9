"""Runs the PyTorch reference AutoAttack (pyautoattack 0.2.0 == fra31/auto-attack@a392200) on the
embedded digits model and stores per-point results as a test fixture.

The reference is too slow to rerun in every CI run (minutes per norm on 2 cores), so its outputs are
computed once here and compared statistically by tests/attacks/test_parity.py; the live comparison
is the slow test in the same file. Rerun this script whenever the embedded weights change:

    python scripts/make_reference_fixtures.py [--out tests/fixtures/reference_digits.json]

Needs the test extra (torch, pyautoattack). The torch model is tests/torch_twins.py's twin of the
Flax model, holding the same weights (logits agree to ~1e-5).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from torch_twins import digits_cnn_torch, nhwc_to_nchw

from alignjax.data.digits import digits_split
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir, load_embedded

EPS = {"Linf": 0.1, "L2": 0.5, "L1": 1.0}
INDIVIDUAL = ("apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square")
SEED, BATCH = 0, 500
# Attacks also run with several seeds: one run's robust accuracy moves by about 1 pp between seeds (on
# both sides), so the parity test compares the means over these seeds for the cheap attacks.
SEEDED, SEEDS = ("apgd-ce", "apgd-dlr"), tuple(range(5))


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.after: dict[str, float] = {}

    def emit(self, record):
        m = re.match(r"robust accuracy after (\S+): ([\d.]+)%", record.getMessage())
        if m:
            self.after[m.group(1).lower()] = float(m.group(2))


def main() -> None:
    import pyautoattack
    from pyautoattack import AutoAttack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "tests/fixtures/reference_digits.json"))
    parser.add_argument("--norms", nargs="+", default=list(EPS))
    args = parser.parse_args()

    torch.set_num_threads(1)  # several threads crawl on a loaded 2-core machine
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    _, variables = load_embedded()
    model = digits_cnn_torch(variables)
    test = digits_split("test")
    x = nhwc_to_nchw(test.x)
    y = torch.from_numpy(test.y.astype(np.int64))
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).numpy()

    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    weights_sha = hashlib.sha256((bundled_weights_dir() / EMBEDDED_WEIGHTS).read_bytes()).hexdigest()
    if result.get("weights_sha256") not in (None, weights_sha):
        result = {}  # made for other weights: start over
    result.update({
        "generated": datetime.date.today().isoformat(),
        "reference": f"pyautoattack {pyautoattack.__dict__.get('__version__', '0.2.0')} (fra31/auto-attack@a392200)",
        "torch": torch.__version__,
        "seed": SEED,
        "batch_size": BATCH,
        "weights_sha256": weights_sha,
        "n": len(y),
        "eps": EPS,
        "clean": clean.astype(int).tolist(),
    })
    norms = result.setdefault("norms", {})
    logger = logging.getLogger("auto-attack")
    logger.setLevel(logging.DEBUG)
    for norm in args.norms:
        eps = EPS[norm]
        entry = norms.setdefault(norm, {"eps": eps, "individual": {}})
        for name in INDIVIDUAL:
            if name in entry["individual"]:  # resume: keep what an earlier run stored
                continue
            aa = AutoAttack(model, norm=norm, eps=eps, version="standard", seed=SEED)
            aa.attacks_to_run = [name]
            start = time.time()
            _, y_adv = aa.run_standard_evaluation(x, y, batch_size=BATCH)
            seconds = time.time() - start
            robust = (y_adv == y).numpy()
            entry["individual"][name] = {
                "robust": robust.astype(int).tolist(),
                "robust_accuracy": float(robust.mean() * 100),
                "seconds": round(seconds, 2),
            }
            print(f"{norm} eps={eps} {name}: {robust.mean() * 100:.2f}% ({seconds:.1f} s)", flush=True)
            _save(out_path, result)
        seeded = entry.setdefault("seeds", {})
        for name in SEEDED:
            if name in seeded:
                continue
            accuracies = []
            for seed in SEEDS:
                aa = AutoAttack(model, norm=norm, eps=eps, version="standard", seed=seed)
                aa.attacks_to_run = [name]
                _, y_adv = aa.run_standard_evaluation(x, y, batch_size=BATCH)
                accuracies.append(float((y_adv == y).numpy().mean() * 100))
            seeded[name] = {"seeds": list(SEEDS), "robust_accuracy": accuracies}
            print(f"{norm} eps={eps} {name}, seeds {list(SEEDS)}: {np.round(accuracies, 2).tolist()}", flush=True)
            _save(out_path, result)
        if "standard" in entry:
            continue
        handler = _Collect()
        logger.addHandler(handler)
        aa = AutoAttack(model, norm=norm, eps=eps, version="standard", seed=SEED)
        start = time.time()
        _, y_adv = aa.run_standard_evaluation(x, y, batch_size=BATCH)
        seconds = time.time() - start
        logger.removeHandler(handler)
        robust = (y_adv == y).numpy()
        entry["standard"] = {
            "robust": robust.astype(int).tolist(),
            "robust_accuracy_after": handler.after,
            "robust_accuracy": float(robust.mean() * 100),
            "seconds": round(seconds, 2),
        }
        print(f"{norm} eps={eps} standard: {robust.mean() * 100:.2f}% after {handler.after} ({seconds:.1f} s)",
              flush=True)
        _save(out_path, result)


def _save(out_path: Path, result: dict) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result) + "\n")
    tmp.replace(out_path)


if __name__ == "__main__":
    main()
