"""Gauss–Newton polish of a trained cavity run, in float64, on RAD points (issue 10, exploration).

    python benchmarks/explore_cavity_polish.py RUN_DIR [--steps 40] [--res 1500] [--bc 200]
        [--delta 0.02] [--k 2] [--redraw 25] [--optimizer gauss_newton|lbfgs]

Loads the run (`pinnsight.load_run`), casts the network to float64 and takes ``--steps``
Levenberg–Marquardt steps (`pinnsight.optim.gauss_newton`, dense) on the weighted loss with
the run's last ``lambda_bc`` frozen. The residual points are drawn by RAD from a 32,768-point
pool (density $|r|^k/\\overline{|r|^k} + 1$) and redrawn every ``--redraw`` steps; with
``--delta`` > 0 no residual or boundary point lies within that distance of the lid's ends
(0, 1), (1, 1). Prints the loss, the damping and the error on the run's reference every 5
steps. ``--optimizer lbfgs`` takes `optax.lbfgs` steps (zoom line search) instead, for
networks too large for a dense Gauss–Newton step (the PirateNet of the cavity's `best`, ≈ 13k
parameters); ``--k 0`` draws the residual points uniformly. A probe for docs/RESULTS.md §10,
not a recipe: the run's own `pinnsight train` is the way to train.
"""

from __future__ import annotations

import argparse
import csv
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import pinnsight as ps
from pinnsight.losses import WeightedLoss, relative_l2, total_loss_fn, weighted_residuals_fn
from pinnsight.optim import POLISHERS

POOL = 32_768


def draw_points(problem, static, args):
    """``(params, key) -> points``: RAD residual points and uniform wall points, none within
    ``args.delta`` of the lid's ends."""

    def away_from_lid_ends(pts):
        d = jnp.minimum(jnp.hypot(pts[:, 0], 1 - pts[:, 1]), jnp.hypot(1 - pts[:, 0], 1 - pts[:, 1]))
        return d > args.delta

    @jax.jit
    def draw(params, key):
        k_pool, k_pick, k_walls = jax.random.split(key, 3)
        pool = problem.domain.sample(k_pool, POOL)
        rk = jnp.linalg.norm(problem.residuals(eqx.combine(params, static), pool), axis=-1) ** args.k
        p = jnp.where(away_from_lid_ends(pool), rk / rk.mean() + 1.0, 0.0)
        pts = {"residual": pool[jax.random.choice(k_pick, POOL, (args.res,), replace=False, p=p / p.sum())]}
        keys = jax.random.split(k_walls, len(problem.conditions))
        for name, k in zip(problem.conditions, keys, strict=True):
            q = problem.conditions[name].sample(k, args.bc)
            if name == "lid":  # x in [delta, 1 - delta]
                q = q.at[:, 0].set(args.delta + (1 - 2 * args.delta) * q[:, 0])
            elif name in ("left", "right"):  # y in [0, 1 - delta]
                q = q.at[:, 1].set((1 - args.delta) * q[:, 1])
            pts[name] = q
        return pts

    return draw


def polish(args) -> None:
    _, problem, net = ps.load_run(args.run)
    net = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, net)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    with open(f"{args.run}/metrics.csv") as f:
        lam = float(list(csv.DictReader(f))[-1]["lambda_bc"])
    weights = {"residual": 1.0, "bc": lam}
    size = sum(a.size for a in jax.tree_util.tree_leaves(params))
    print(f"P = {size} parameters, lambda_bc = {lam:.4g} (frozen)", flush=True)
    ref = problem.reference_data
    ref_pts, ref_vals = jnp.asarray(ref.points), jnp.asarray(ref.values)
    error = jax.jit(lambda p: relative_l2(problem.observe(eqx.combine(p, static), ref_pts), ref_vals))
    opt = POLISHERS[args.optimizer]()  # the polish stage of `optim.polish`, as training builds it
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, pts):
        if args.optimizer == "lbfgs":
            value_fn = total_loss_fn(problem, static, weights, pts)
            value, grad = jax.value_and_grad(value_fn)(params)
            updates, opt_state = opt.update(
                grad, opt_state, params, value=value, grad=grad, value_fn=value_fn
            )
            return optax.apply_updates(params, updates), opt_state, value
        value_fn = WeightedLoss(
            total_loss_fn(problem, static, weights, pts), weighted_residuals_fn(problem, static, weights, pts)
        )
        updates, opt_state = opt.update(None, opt_state, params, value_fn=value_fn)
        return optax.apply_updates(params, updates), opt_state, value_fn(params)

    draw = draw_points(problem, static, args)
    key = jax.random.PRNGKey(args.seed)
    print(f"start: error {float(error(params)):.4e}", flush=True)
    t0 = time.perf_counter()
    for i in range(args.steps):
        if i % args.redraw == 0:
            key, sub = jax.random.split(key)
            pts = draw(params, sub)
        params, opt_state, loss = step(params, opt_state, pts)
        if i < 3 or i % args.every == args.every - 1:
            print(
                f"{args.optimizer} {i + 1:4d} loss {float(loss):.3e} "
                + (f"rho {float(opt_state.rho):.1e} " if args.optimizer == "gauss_newton" else "")
                + f"error {float(error(params)):.4e} {time.perf_counter() - t0:7.1f} s",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--res", type=int, default=1500, help="residual points")
    ap.add_argument("--bc", type=int, default=200, help="points per wall")
    ap.add_argument("--k", type=float, default=2.0, help="RAD exponent")
    ap.add_argument("--redraw", type=int, default=25, help="steps between redraws")
    ap.add_argument("--delta", type=float, default=0.0, help="no points this close to the lid's ends")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--optimizer", choices=tuple(POLISHERS), default="gauss_newton")
    ap.add_argument("--every", type=int, default=5, help="steps between printed lines")
    args = ap.parse_args()
    with jax.enable_x64(True):
        polish(args)


if __name__ == "__main__":
    main()
