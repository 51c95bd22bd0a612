#!/usr/bin/env bash
# One device call (issues 9, 13, 14): the CPU search on 14 one-core slots beside the GPU
# throughput table and the best recipes on the GPU. Results land in $OUT.
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/device_out}; mkdir -p "$OUT"
SEARCH=${SEARCH:-benchmarks/searches/device_1.json}
LIMIT=${LIMIT:-520}
{ nproc; lscpu | grep -E "Model name|^CPU\(s\)"; nvidia-smi -L; python3 -c "import jax; print(jax.__version__, jax.devices())"; } > "$OUT/machine.txt" 2>&1
timeout "$LIMIT" python3 benchmarks/search.py "$SEARCH" --seeds 0,1,2 --jobs 14 --cores 1 \
    --out "$OUT/search.jsonl" > "$OUT/search.log" 2>&1 &
SEARCH_PID=$!
taskset -c 14,15 timeout 240 python3 benchmarks/throughput.py --max-seconds 200 \
    --out "$OUT/throughput_gpu.json" > "$OUT/throughput_gpu.md" 2> "$OUT/throughput_gpu.err"
for p in helmholtz klein_gordon; do
  taskset -c 14,15 timeout 100 python3 -m pinnsight.cli train $p --recipe best --quiet \
      --out /tmp/gpu-$p > "$OUT/gpu_best_$p.txt" 2>&1
  python3 -c "import json,sys; s=json.load(open('/tmp/gpu-$p/summary.json')); print({k: s[k] for k in ('final_error','wall_time_s','train_time_s','steps')})" >> "$OUT/gpu_best_$p.txt" 2>&1
done
wait $SEARCH_PID
tail -3 "$OUT/search.log"
