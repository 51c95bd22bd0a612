r"""Can `best`'s network hold the cavity's flow, and does the PINN loss keep it there?

    python benchmarks/explore_cavity_capacity.py [--re 1000] [--steps 40000] [--batch 512]
        [--seed 0] [--set KEY=VALUE ...] [--save F] [--load F] [--pde-weight 0]
        [--pinn-steps 0] [--pinn-lr 1e-4] [--pinn-seed S]

A probe, not a way to train a PINN (it reads the answer). The network of ``pinnsight train
cavity --recipe best`` (a PirateNet of width 50 unless ``--set net.layers=...``), with its
optimiser (SOAP) and learning-rate schedule (one stage from 1e-3, warm-up included), is
fitted by regression to the finite-difference reference's velocity: each step draws
``--batch`` nodes of the reference grid (``--grid`` cells a side, 161 x 161 nodes by
default) and minimises

$$\frac{1}{2N}\sum_{n}\big\|\nabla^\perp\psi_\theta(x_n) - (u, v)_{\mathrm{ref}}(x_n)\big\|^2
+ \beta\,\mathcal{L}_r, \qquad \nabla^\perp\psi = (\psi_y, -\psi_x),$$

the velocity the PINN's losses use (`pinnsight.problems.cavity.velocity`), and $\beta$
(``--pde-weight``, 0 by default) times the PINN's residual loss on ``--batch`` uniform points:
the reference has no pressure, so with $\beta = 0$ the network's p, and with it the residual,
stays untrained. Every 5,000 steps it prints the issue's metric (the relative L2 of the speed
on the problem's 100 x 100 evaluation grid) and the PINN's own loss terms of the network (the
residual, `corner_radius` weighting included, on 8,192 fixed uniform points, also without the
points within 0.01, 0.05 and 0.1 of a lid end; each wall on 1,024 points).

``--pinn-steps N`` then trains that network as a PINN for N steps, no data (`pinnsight.train.fit`
with `best`'s balancer from its initial weights, its optimiser, 512 residual points and 128 per
wall, the paper's schedule from ``--pinn-lr``: the Re = 1000 stage of `best`), and prints the
error every 2,500 steps: does the PDE loss keep a network that is near the reference near it?
``--seed`` picks the initial network (keep the saving run's with ``--load``: the network's
fixed parts come from it) and the points; ``--pinn-seed`` the PINN's points alone.

What it answers: a network that can be fitted far below the target, and that the PINN loss
keeps near it, but that a PINN run from scratch leaves at 0.08 - 0.19, is limited by the path
of its training, neither by its width nor by where the loss's minima lie.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import pinnsight as ps
from pinnsight.experiments.build import (
    build_balancer,
    build_net,
    build_optimizer,
    build_problem,
    build_sampler,
)
from pinnsight.problems.cavity import velocity
from pinnsight.reference.cavity import cavity_reference
from pinnsight.train import fit, relative_l2

CHUNK = 500


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--re", type=float, default=1000.0)
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", type=int, default=160, help="cells per side of the reference")
    ap.add_argument("--set", dest="assignments", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--save", help="write the fitted network here (equinox leaves)")
    ap.add_argument("--load", help="start from a network saved by --save, or a run folder's")
    ap.add_argument("--pde-weight", type=float, default=0.0, help="beta: add beta x the residual loss")
    ap.add_argument("--pinn-steps", type=int, default=0)
    ap.add_argument("--pinn-lr", type=float, default=1e-4)
    ap.add_argument("--pinn-seed", type=int, default=None, help="the PINN's points (default: --seed)")
    args = ap.parse_args()
    config = ps.RunConfig.create(problem="cavity", recipe="best", steps=max(args.steps, 1), seed=args.seed)
    config = config.override(**{"problem.params.Re": args.re, "run.curriculum": {}})
    config = config.with_assignments(args.assignments)
    problem = build_problem(config.override(**{"problem.params.grid": args.grid}))
    net = build_net(config, problem, jax.random.PRNGKey(args.seed))
    if args.load and Path(args.load).is_dir():
        net = ps.load_run(args.load)[2]
    elif args.load:
        net = eqx.tree_deserialise_leaves(args.load, net)
    nodes, targets = _reference_nodes(args.re, args.grid)
    optimizer = build_optimizer(config)
    fit_chunk, opt_state = _fitter(net, optimizer, nodes, targets, args.batch, problem, args.pde_weight)
    ref = problem.reference_data
    error = eqx.filter_jit(lambda n: relative_l2(problem.observe(n, ref.points), ref.values))
    pde_losses = _pde_losses(problem, jax.random.PRNGKey(12345))
    key, t0 = jax.random.PRNGKey(args.seed + 1), time.perf_counter()
    print(
        f"Re = {args.re:g}, {args.steps} steps, batch {args.batch}, {' '.join(args.assignments)}", flush=True
    )
    print(f"start: rel. L2 of the speed {float(error(net)):.4e}, PINN losses {pde_losses(net)}", flush=True)
    for start in range(0, args.steps, CHUNK):
        key, sub = jax.random.split(key)
        net, opt_state, loss = fit_chunk(net, opt_state, sub)
        done = start + CHUNK
        if done % 5000 == 0 or done >= args.steps:
            print(
                f"step {done}: loss {float(loss):.3e}, rel. L2 of the speed {float(error(net)):.4e}, "
                f"PINN losses {pde_losses(net)}, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    if args.save:
        eqx.tree_serialise_leaves(args.save, net)
    if args.pinn_steps:
        net = _pinn(config, problem, net, args)
        print(f"after the PINN steps: PINN losses {pde_losses(net)}", flush=True)


def _pde_losses(problem, key):
    """The PINN's loss terms of a network on fixed points, as one short string; the residual's
    also without the points within 0.01, 0.05 and 0.1 of a lid end (its share away from them)."""
    keys = jax.random.split(key, 1 + len(problem.conditions))
    interior = problem.domain.sample(keys[0], 8192)
    conditions = zip(problem.conditions.items(), keys[1:], strict=True)
    walls = {n: c.where.sample(k, 1024) for (n, c), k in conditions}
    ends = jnp.minimum(
        jnp.hypot(interior[:, 0], 1 - interior[:, 1]), jnp.hypot(1 - interior[:, 0], 1 - interior[:, 1])
    )

    @eqx.filter_jit
    def losses(net):
        r2 = jnp.sum(problem.residuals(net, interior) ** 2, axis=-1)
        terms = {"residual": jnp.mean(r2)}
        terms.update({f"residual beyond {d:g}": jnp.mean(jnp.where(ends > d, r2, 0.0)) for d in _ENDS})
        terms.update({n: problem.condition_loss(n, net, pts) for n, pts in walls.items()})
        return terms

    return lambda net: ", ".join(f"{n} {float(v):.2e}" for n, v in losses(net).items())


_ENDS = (0.01, 0.05, 0.1)


def _pinn(config, problem, net, args):
    """Train ``net`` as a PINN from the fitted weights; print the error trace; the network."""
    cfg = config.override(
        **{
            "optim.learning_rate": args.pinn_lr,
            "sampling.batch_size": {"residual": 512, **{n: 128 for n in problem.conditions}},
        }
    )
    result = fit(
        problem,
        net,
        build_balancer(cfg),
        steps=args.pinn_steps,
        key=jax.random.PRNGKey((args.seed if args.pinn_seed is None else args.pinn_seed) + 2),
        optimizer=build_optimizer(cfg),
        sampler=build_sampler(cfg, problem),
        batch_size=cfg.sampling.batch_size,
        chunk_size=cfg.run.chunk_size,
    )
    errs, done = result.history["error"], result.history["step"]
    trace = ", ".join(f"{int(s)}: {e:.4f}" for s, e in zip(done, errs, strict=True) if int(s) % 2500 == 0)
    print(
        f"as a PINN from the fit, lr0 = {args.pinn_lr:g}: {trace}; final {result.summary['final_error']:.4e}"
    )
    return result.net


def _reference_nodes(re: float, grid: int) -> tuple[jax.Array, jax.Array]:
    """The reference grid's nodes, shape (N, 2), and its (u, v) there, shape (N, 2)."""
    sol = cavity_reference(re, grid)
    X, Y = np.meshgrid(sol.x, sol.x, indexing="ij")
    nodes = np.stack([X.ravel(), Y.ravel()], axis=-1).astype(np.float32)
    targets = np.stack([sol.u.ravel(), sol.v.ravel()], axis=-1).astype(np.float32)
    return jnp.asarray(nodes), jnp.asarray(targets)


def _fitter(net, optimizer: optax.GradientTransformation, nodes, targets, batch: int, problem, pde_weight):
    """One compiled chunk of CHUNK regression steps, the nodes drawn inside each step."""
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def loss_fn(params, idx, interior):
        model = eqx.combine(params, static)
        pred = jax.vmap(velocity(model))(nodes[idx])
        data = 0.5 * jnp.mean(jnp.sum((pred - targets[idx]) ** 2, axis=-1))
        if not pde_weight:
            return data
        return data + pde_weight * problem.residual_loss(model, interior)

    def step(carry, key):
        params, state = carry
        key, sub = jax.random.split(key)
        idx = jax.random.randint(key, (batch,), 0, nodes.shape[0])
        interior = problem.domain.sample(sub, batch)
        loss, grads = jax.value_and_grad(loss_fn)(params, idx, interior)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss

    @jax.jit
    def run(params, state, key):
        (params, state), losses = jax.lax.scan(step, (params, state), jax.random.split(key, CHUNK))
        return params, state, losses[-1]

    def fit_chunk(model, state, key):
        params, state, loss = run(eqx.filter(model, eqx.is_inexact_array), state, key)
        return eqx.combine(params, static), state, loss

    return fit_chunk, optimizer.init(params)


if __name__ == "__main__":
    main()
