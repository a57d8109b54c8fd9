"""Trains the embedded default model: the digits CNN, adversarially (PGD, Linf), with optax.

Recipe (recorded in weights/digits_cnn.json): sklearn digits, fixed split (1400 train / 397 test,
alignjax.data.digits), pixels/16 in [0, 1]; SmallCNN (conv16-conv32-maxpool-fc64-fc10); Adam lr 3e-3
with cosine decay, batch 128, 40 epochs; every batch is replaced by 7-step PGD adversarial examples
at Linf eps 0.1 (step 0.03, random start) after a 3-epoch clean warm-up (Madry et al. 2018).

Usage: python scripts/train_digits_cnn.py [--out weights/digits_cnn.safetensors] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from safetensors.numpy import save_file

from alignjax.data.digits import digits_split
from alignjax.models.embedded import flatten
from alignjax.models.small_cnn import SmallCNN

EPS, PGD_STEPS, PGD_STEP = 0.1, 7, 0.03
EPOCHS, WARMUP, BATCH, LR = 40, 3, 128, 3e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="weights/digits_cnn.safetensors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train, test = digits_split("train"), digits_split("test")
    model = SmallCNN()
    key = jax.random.key(args.seed)
    variables = model.init(key, jnp.zeros((1, 8, 8, 1), jnp.float32))
    steps_per_epoch = -(-len(train.x) // BATCH)
    schedule = optax.cosine_decay_schedule(LR, EPOCHS * steps_per_epoch)
    tx = optax.adam(schedule)
    opt_state = tx.init(variables)

    def loss_fn(v, x, y):
        logits = model.apply(v, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def pgd(v, x, y, k):
        delta = jax.random.uniform(k, x.shape, minval=-EPS, maxval=EPS)

        def body(_, d):
            g = jax.grad(lambda d_: loss_fn(v, jnp.clip(x + d_, 0.0, 1.0), y))(d)
            return jnp.clip(d + PGD_STEP * jnp.sign(g), -EPS, EPS)

        delta = jax.lax.fori_loop(0, PGD_STEPS, body, delta)
        return jnp.clip(x + delta, 0.0, 1.0)

    @jax.jit
    def step(v, opt_state, x, y, k, adversarial):
        x_in = jax.lax.cond(adversarial, lambda: pgd(v, x, y, k), lambda: x)
        loss, grads = jax.value_and_grad(loss_fn)(v, x_in, y)
        updates, opt_state = tx.update(grads, opt_state, v)
        return optax.apply_updates(v, updates), opt_state, loss

    @jax.jit
    def accuracy(v, x, y, k):
        clean = jnp.mean(jnp.argmax(model.apply(v, x), -1) == y)
        adv = jnp.mean(jnp.argmax(model.apply(v, pgd(v, x, y, k)), -1) == y)
        return clean, adv

    start = time.time()
    rng = np.random.default_rng(args.seed)
    for epoch in range(EPOCHS):
        order = rng.permutation(len(train.x))
        for b in range(steps_per_epoch):
            idx = order[b * BATCH : (b + 1) * BATCH]
            key, sub = jax.random.split(key)
            variables, opt_state, loss = step(
                variables, opt_state, train.x[idx], train.y[idx], sub, epoch >= WARMUP
            )
        if epoch % 5 == 4 or epoch == EPOCHS - 1:
            clean, adv = accuracy(variables, test.x, test.y, jax.random.key(1))
            print(f"epoch {epoch + 1}: loss {float(loss):.3f} test clean {float(clean):.4f} pgd7 {float(adv):.4f}")
    seconds = time.time() - start

    clean, adv = accuracy(variables, test.x, test.y, jax.random.key(1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.asarray(v, np.float32) for k, v in flatten(jax.device_get(variables)).items()}, str(out))
    meta = {
        "architecture": "small_cnn (conv3x3 16 - conv3x3 32 - maxpool2 - fc64 - fc10), NHWC 8x8x1",
        "data": "sklearn digits, alignjax.data.digits fixed split: 1400 train / 397 test, pixels/16",
        "recipe": {
            "optimizer": "adam", "lr": LR, "schedule": "cosine decay", "batch_size": BATCH,
            "epochs": EPOCHS, "clean_warmup_epochs": WARMUP,
            "adversarial_training": {"attack": "PGD", "norm": "Linf", "eps": EPS, "steps": PGD_STEPS,
                                     "step_size": PGD_STEP, "random_start": True},
            "seed": args.seed,
        },
        "train_seconds_cpu": round(seconds, 1),
        "test_clean_accuracy": round(float(clean) * 100, 2),
        "test_pgd7_linf0.1_accuracy": round(float(adv) * 100, 2),
        "jax_version": jax.__version__,
    }
    meta_path = out.with_suffix(".json")
    if meta_path.exists():  # keep AutoAttack figures recorded by scripts/measure_digits_cnn.py
        old = json.loads(meta_path.read_text())
        meta = {**old, **meta}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
