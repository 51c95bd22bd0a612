"""Training throughput of M1–M4 at the paper's Helmholtz settings, side by side.

    python benchmarks/speed.py [--steps 5000] [--chunk 500] [--problem helmholtz]

Each model's chunk is compiled first, then ``--steps`` steps are timed (compile
excluded). Reports steps/s and the cost of each model relative to M1 in the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time

import jax

import pinnsight as ps
from pinnsight.experiments.build import build, build_balancer, build_optimizer, build_sampler
from pinnsight.losses import batch_sizes
from pinnsight.train import init_state, make_step


def step_and_state(config: ps.RunConfig):
    """The pure training step of ``config`` and its initial `TrainState`."""
    problem, net, key = build(config)
    balancer, opt, sampler = build_balancer(config), build_optimizer(config), build_sampler(config, problem)
    sizes = batch_sizes(problem, config.sampling.batch_size)
    step = make_step(problem, net, opt, balancer, sizes, sampler)
    return step, init_state(problem, net, opt, balancer, sampler, key)


def best_rate(step, state, steps: int, chunk: int = 500, repeats: int = 3) -> float:
    """Steps/s of ``step`` scanned in chunks (compile excluded, best of ``repeats``)."""

    @functools.partial(jax.jit, static_argnums=1)
    def run_chunk(s, n):
        return jax.lax.scan(lambda c, _: step(c), s, None, length=n)

    state, m = run_chunk(state, chunk)
    jax.block_until_ready(m)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps // chunk):
            state, m = run_chunk(state, chunk)
        jax.block_until_ready(m)
        best = max(best, (steps // chunk) * chunk / (time.perf_counter() - t0))
    return best


def throughput(config: ps.RunConfig, steps: int, chunk: int) -> float:
    return best_rate(*step_and_state(config), steps, chunk)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="helmholtz")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--models", default="M1,M2,M3,M4", help="recipes, comma-separated")
    ap.add_argument("--set", nargs="*", default=[], dest="assignments")
    args = ap.parse_args()
    base = ps.RunConfig.create(problem=args.problem).with_assignments(args.assignments)
    rates = {}
    for m in args.models.split(","):
        rates[m] = throughput(base.override(recipe=m), args.steps, args.chunk)
    ref = rates.get("M1")
    print(
        f"# {args.problem}, batch {base.sampling.batch_size}/sampler, chunk {args.chunk}, "
        f"{args.steps} timed steps (best of 3); jax {jax.__version__}, "
        f"{jax.devices()[0].platform}, {platform.processor() or platform.machine()}"
    )
    print(f"{'model':6} {'steps/s':>9} {'cost vs M1':>11}")
    for m, r in rates.items():
        rel = f"{ref / r:.3f}x" if ref else "-"
        print(f"{m:6} {r:9.0f} {rel:>11}")
    print(json.dumps({"rates": rates}))


if __name__ == "__main__":
    main()
