#!/usr/bin/env bash
# Issue 13's GPU figures that are still missing, as one device call of about 9.5 minutes (a session's
# device time is 15 minutes, machine start included). Rows in order of what is least known; each
# step has a wall-clock limit and writes its JSON after every row, so a cut run keeps what it measured.
#   1. ResNet-50 at 224 px (torchvision layout, random weights): standard cascade, all robust, fp32 + bf16.
#   2. WRN-28-10 "mixed" (about half the points survive APGD-CE): cascade, APGD-CE and Square.
#   3. WRN-28-10 at the batch 500: cascade, fp32.
# On the device machine, from the repository root, with pyautoattack importable (it is not installed
# there: carry an unzipped wheel, e.g. PYTHONPATH=$PWD/.whl/site:$PWD):
#   OUT=$OUT bash benchmarks/gpu_attack_speed.sh
# On a CPU, to check that it runs (tiny models, 8 points, each step cut at a tenth of its limit):
#   SMOKE=1 PYTHON=.venv/bin/python OUT=/tmp/gpu-smoke bash benchmarks/gpu_attack_speed.sh
set -u
PYTHON=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results/gpu-$(date +%F)}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.5}
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax-cache} JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0.5
if [ -n "${SMOKE:-}" ]; then
  device=cpu; extra=(--smoke --n 8 --batch-size 8); divide=10
else
  device=cuda; extra=(); divide=1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/env.txt"
fi
"$PYTHON" -c "import sys, jax, flax, torch, numpy; print(sys.version.split()[0], 'jax', jax.__version__, 'flax', \
flax.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__, jax.devices())" >> "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

step() {  # step NAME LIMIT_S ARGS...: one attack_speed.py run, its log and JSON under $OUT
  local name=$1 limit=$(($2 / divide))
  shift 2
  echo "== $name (limit ${limit} s): $*"
  timeout "$limit" "$PYTHON" benchmarks/attack_speed.py --device "$device" "$@" "${extra[@]}" \
    --json "$OUT/$name.json" 2>&1 | grep -v Warning | tee "$OUT/$name.log"
}

step resnet50 230 --workload resnet50 --n 64 --batch-size 64 --precision fp32,bf16 --attacks '' --budget-s 140
step wrn28_mixed 190 --workload wrn28 --n 128 --batch-size 128 --mode mixed --attacks apgd-ce,square --budget-s 120
step wrn28_batch500 150 --workload wrn28 --n 500 --batch-size 500 --attacks '' --budget-s 30
