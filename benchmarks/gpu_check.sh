#!/usr/bin/env bash
# Short GPU check (run through the device tool): same code on CUDA, speed and one full run.
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
nvidia-smi -L
python3 -c "import jax, equinox, optax; print('jax', jax.__version__, jax.devices())"
python3 benchmarks/speed.py --steps 5000 2>&1 | tee "$OUT/speed_helmholtz.txt"
python3 benchmarks/speed.py --steps 5000 --models M1,M4 --set batch_size=1024 2>&1 | tee "$OUT/speed_helmholtz_b1024.txt"
python3 benchmarks/speed.py --problem cavity --steps 2000 --models M1,M4 2>&1 | tee "$OUT/speed_cavity.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/helmholtz_m4_full.txt"
import time, pinnsight as ps
t = time.perf_counter()
r = ps.run(ps.RunConfig(model="M4", steps=40000, seed=0), progress=False)
print(f"helmholtz M4 seed 0, 40000 steps on {__import__('jax').devices()[0]}: rel L2 "
      f"{r.summary['final_error']:.3e}, wall {time.perf_counter() - t:.1f} s, "
      f"{r.summary['steps_per_s']:.0f} steps/s")
PY
