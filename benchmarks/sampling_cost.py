"""Cost of residual-based adaptive sampling (RAD) against uniform sampling, side by side.

    python benchmarks/sampling_cost.py [--problem burgers] [--model M4] [--steps 10000]

Times `pinnsight.run` end to end, as a user sees it (compilation and, for RAD, the pool
refresh before every chunk included), for the same config with ``sampling=uniform``
and ``sampling=rad``, alternating the two three times and keeping the best of each.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax

import pinnsight as ps


def timed_run(config: ps.RunConfig) -> float:
    t0 = time.perf_counter()
    ps.run(config, progress=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="burgers")
    ap.add_argument("--model", default="M4")
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--set", nargs="*", default=[], dest="assignments")
    args = ap.parse_args()
    base = ps.RunConfig.create(problem=args.problem, recipe=args.model, steps=args.steps)
    base = base.with_assignments(args.assignments)
    configs = {name: base.override(sampling=name) for name in ("uniform", "rad")}
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(3):
        for name, cfg in configs.items():
            best[name] = min(best[name], timed_run(cfg))
    print(
        f"# {args.problem} {args.model}, {args.steps} steps, chunk {base.run.chunk_size}, pool "
        f"{base.options('sampling').get('pool', 8192)}; jax {jax.__version__}, {platform.machine()}"
    )
    for name, t in best.items():
        print(f"{name:8s} {args.steps / t:8.0f} steps/s  {t / best['uniform']:.3f}x uniform's time")


if __name__ == "__main__":
    main()
