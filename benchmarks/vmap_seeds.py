"""How much would batching seeds with `vmap` gain? Throughput of S seeds in one program.

    python benchmarks/vmap_seeds.py [--problem helmholtz] [--model M1] [--seeds 3] [--steps 3000]

Builds S independent training states (different init and point keys), vmaps the pure
training step over them inside one `lax.scan`, and compares seed-steps/s with one seed
in the same process (compile excluded, best of 3). Not used by `reproduce` yet.
"""

from __future__ import annotations

import argparse
import functools
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import pinnsight as ps
from pinnsight.models import build_balancer
from pinnsight.runner import build
from pinnsight.train import TrainState, make_step, paper_optimizer


def states(config: ps.RunConfig, seeds: int):
    out = []
    for s in range(seeds):
        problem, net, key = build(config.override(seed=s))
        bal = build_balancer(config, problem)
        opt = paper_optimizer()
        params, static = eqx.partition(net, eqx.is_inexact_array)
        out.append(
            TrainState(params, opt.init(params), bal.init(problem.groups), key, jnp.asarray(0, jnp.int32))
        )
    sizes = dict.fromkeys(("residual", *problem.conditions), config.batch_size)
    step = make_step(problem, static, opt, bal, sizes)
    return out, step


def rate(step, state, steps: int, chunk: int = 500) -> float:
    @functools.partial(jax.jit, static_argnums=1)
    def run(s, n):
        return jax.lax.scan(lambda c, _: step(c), s, None, length=n)

    state, m = run(state, chunk)
    jax.block_until_ready(m)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps // chunk):
            state, m = run(state, chunk)
        jax.block_until_ready(m)
        best = max(best, (steps // chunk) * chunk / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="helmholtz")
    ap.add_argument("--model", default="M1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    config = ps.RunConfig(problem=args.problem, model=args.model)
    sts, step = states(config, args.seeds)
    single = rate(step, sts[0], args.steps)
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *sts)
    batched = rate(jax.vmap(step), stacked, args.steps)
    print(
        f"{args.problem} {args.model}: one seed {single:.0f} steps/s; {args.seeds} seeds vmapped "
        f"{batched:.0f} steps/s = {batched * args.seeds:.0f} seed-steps/s "
        f"({batched * args.seeds / single:.2f}x the single-seed throughput)"
    )


if __name__ == "__main__":
    main()
