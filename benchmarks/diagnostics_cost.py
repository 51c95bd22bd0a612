"""Cost of the diagnostics: sigma_max by Lanczos, and training with histograms on/off.

    python benchmarks/diagnostics_cost.py [--steps 40000] [--iters 20]

1. sigma_max of the Hessian of the Helmholtz M1 loss (paper net, 128 points per
   sampler) by Lanczos on Hessian-vector products: compile time and the median of 5
   timed calls.
2. The same M1 run trained twice in this process, without and with gradient histograms
   at steps 0, 10k, 20k, ... : wall times and their ratio (compile included in both).
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
from jax.flatten_util import ravel_pytree

import pinnsight as ps
from pinnsight.diagnostics import loss_max_eigenvalue
from pinnsight.experiments.build import build
from pinnsight.experiments.compare import default_hist_steps
from pinnsight.losses import batch_sizes, sample_points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()

    cfg = ps.RunConfig.create(recipe="M1", steps=args.steps)
    problem, net, _ = build(cfg)
    n_params = ravel_pytree(eqx.filter(net, eqx.is_inexact_array))[0].size
    sizes = batch_sizes(problem, 128)
    pts = sample_points(problem, jax.random.PRNGKey(0), sizes)
    sigma = jax.jit(lambda n, p: loss_max_eigenvalue(problem, n, p, num_iters=args.iters))
    t0 = time.perf_counter()
    first = float(sigma(net, pts))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        jax.block_until_ready(sigma(net, pts))
        times.append(time.perf_counter() - t0)
    print(
        f"sigma_max, Helmholtz M1 net ({n_params} parameters), {args.iters} Lanczos HVPs: "
        f"{first:.4e}; compile {compile_s:.2f} s, call {statistics.median(times) * 1e3:.1f} ms "
        f"(median of 5)"
    )

    walls = {}
    for label, hist in (("without histograms", ()), ("with histograms", default_hist_steps(args.steps))):
        t0 = time.perf_counter()
        ps.run(cfg.override(hist_steps=hist), progress=False)
        walls[label] = time.perf_counter() - t0
        print(f"M1 {args.steps} steps {label}: {walls[label]:.1f} s")
    ratio = walls["with histograms"] / walls["without histograms"]
    print(f"histograms every 10k steps cost {100 * (ratio - 1):+.1f}% wall time")


if __name__ == "__main__":
    main()
