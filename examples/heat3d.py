r"""The heat equation in $(t, x, y)$: a 3D problem whose reference grid has $10^6$ points.

$u_t = \kappa(u_{xx} + u_{yy})$ on $[0,1]^2\times[0,1]$, $u = \sin(\pi x)\sin(\pi y)
e^{-2\kappa\pi^2 t}$ (the built-in problem ``heat3d``, `pinnsight.problems.heat3d`), trained
through the config tree; prints the final error on the whole $100^3$ grid, the training
time and the share of the wall time spent evaluating and logging (``summary.json``'s
``eval_log_share``: the per-chunk error on a fixed subsample of ``--eval-points`` points,
the gradient statistics, the callbacks, and one whole-grid error at the end).

    python examples/heat3d.py                     # 20,000 steps of M1
    python examples/heat3d.py --steps 300         # a quick check
    python examples/heat3d.py --eval-points 0     # the whole grid after every chunk (the old cost)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import pinnsight as ps
from pinnsight.train import DEFAULT_EVAL_POINTS


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train ``heat3d`` as the arguments say, print one line of results, return the summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--recipe", default="M1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kappa", type=float, default=0.1)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument(
        "--eval-points", type=int, default=DEFAULT_EVAL_POINTS, help="per-chunk error points; 0: all 10^6"
    )
    ap.add_argument("--out", default=None, help="a run folder to write (default: none)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    cfg = ps.RunConfig.create(
        problem="heat3d",
        recipe=args.recipe,
        kappa=args.kappa,
        steps=args.steps,
        seed=args.seed,
        chunk_size=args.chunk_size,
        **{"run.eval_points": args.eval_points},
    )
    s = ps.run(cfg, args.out, progress=not args.quiet).summary
    print(
        f"heat3d {args.recipe}: {s['steps']} steps, relative L2 error {s['final_error']:.3e} "
        f"(whole {100**3:,}-point grid); wall {s['wall_time_s']:.1f} s, training "
        f"{s['train_time_s']:.1f} s ({s['steps_per_s']:.0f} steps/s), evaluation + logging "
        f"{s['eval_log_time_s']:.1f} s = {100 * s['eval_log_share']:.1f}% of wall time "
        f"(per-chunk error on {s['eval_points']:,} points)"
    )
    return s


if __name__ == "__main__":
    main()
