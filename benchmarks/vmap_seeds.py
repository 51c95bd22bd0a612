"""How much would batching seeds with `vmap` gain? Throughput of S seeds in one program.

    python benchmarks/vmap_seeds.py [--problem helmholtz] [--model M1] [--seeds 3] [--steps 3000]

Builds S independent training states (different init and point keys), vmaps the pure
training step over them inside one `lax.scan`, and compares seed-steps/s with one seed
in the same process (compile excluded, best of 3). Not used by `reproduce` yet.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from speed import best_rate, step_and_state  # benchmarks/ is on sys.path when run as a script

import pinnsight as ps


def states(config: ps.RunConfig, seeds: int):
    """The shared step and one initial state per seed (different init and point keys)."""
    pairs = [step_and_state(config.override(seed=s)) for s in range(seeds)]
    return [state for _, state in pairs], pairs[0][0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="helmholtz")
    ap.add_argument("--model", default="M1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    config = ps.RunConfig.create(problem=args.problem, recipe=args.model)
    sts, step = states(config, args.seeds)
    single = best_rate(step, sts[0], args.steps)
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *sts)
    batched = best_rate(jax.vmap(step), stacked, args.steps)
    print(
        f"{args.problem} {args.model}: one seed {single:.0f} steps/s; {args.seeds} seeds vmapped "
        f"{batched:.0f} steps/s = {batched * args.seeds:.0f} seed-steps/s "
        f"({batched * args.seeds / single:.2f}x the single-seed throughput)"
    )


if __name__ == "__main__":
    main()
