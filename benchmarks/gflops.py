"""Achieved GFLOP/s of a training step against this machine's measured float32 peak.

    python benchmarks/gflops.py [--models M1,M4] [--problem helmholtz] [--steps 5000]

FLOPs per step are XLA's own count (``compiled.cost_analysis()["flops"]``) of *one* jitted
step (not a scanned chunk, whose loop body XLA counts once whatever its length). Steps/s
are timed as `speed.py` times them (scanned chunks, compile excluded, best of 3). The peak
is measured in the same run, with XLA too: a float32 ``n × n @ n × n`` matmul
($2n^3$ FLOPs) on all cores, best of 5 — the rate this machine reaches on work shaped for
it, so "fraction of peak" says how far the step's small, oddly-shaped kernels are from that.
One more line times the matmul pinned to one core (``taskset``), to show how much of the
peak a single-threaded step could reach at most.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

import pinnsight as ps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import speed  # noqa: E402


def step_flops(config: ps.RunConfig) -> float:
    """XLA's FLOP count of one training step of ``config``."""
    step, state = speed.step_and_state(config)
    cost = jax.jit(step).lower(state).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of a float32 ``n × n`` matmul under XLA, here and now."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    mm(a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm(a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def one_core_peak() -> float | None:
    """`matmul_gflops` in a subprocess pinned to core 0 (None without ``taskset``)."""
    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
    code += "import gflops; print(gflops.matmul_gflops())"
    try:
        argv = ["taskset", "-c", "0", sys.executable, "-c", code]
        out = subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        return None
    lines = out.stdout.strip().splitlines()
    return float(lines[-1]) if out.returncode == 0 and lines else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="helmholtz")
    ap.add_argument("--models", default="M1,M4")
    ap.add_argument("--steps", type=int, default=5000)
    args = ap.parse_args()
    peak, single = matmul_gflops(), one_core_peak()
    print(f"# {args.problem}, paper's settings; {os.cpu_count()} cores; JAX {jax.__version__}")
    print(f"peak: float32 2048^3 matmul {peak:.1f} GFLOP/s (all cores)", end="")
    print(f", {single:.1f} GFLOP/s (one core)" if single else "")
    rows = {}
    for model in args.models.split(","):
        config = ps.RunConfig.create(problem=args.problem, recipe=model)
        flops = step_flops(config)
        rate = speed.throughput(config, args.steps, 500)
        achieved = flops * rate / 1e9
        rows[model] = {"mflop_per_step": flops / 1e6, "steps_per_s": rate, "gflops": achieved}
        of_one = f"  ({100 * achieved / single:.0f}% of one core)" if single else ""
        print(
            f"{model:4} {flops / 1e6:7.1f} MFLOP/step  {rate:7.1f} steps/s  {achieved:6.1f} GFLOP/s  "
            f"{100 * achieved / peak:5.1f}% of peak{of_one}"
        )
    print(json.dumps({"peak_gflops": peak, "one_core_gflops": single, "rows": rows}))


if __name__ == "__main__":
    main()
