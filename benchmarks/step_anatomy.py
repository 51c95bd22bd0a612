r"""Where the time of one M1 step goes, and whether a forward Laplacian would cut it.

    taskset -c 0 python benchmarks/step_anatomy.py [--steps 2000] [--rounds 2]

RESULTS §9 ("Per step") asks what keeps the paper's Helmholtz step (tanh 2-50-50-50-1,
128 residual + 4×128 boundary points, Adam) at about a third of one core's matmul peak.
This script answers with four measurements, each a `lax.scan` of ``--steps`` steps,
compiled first, best of 3 (the step uses one core: run it under ``taskset -c 0``):

1. **pinnsight's own step** (`speed.step_and_state` of the M1 config) against the same
   work written out by hand here (the same network class, `pinnsight.laplacian`, points
   drawn inside the step), so that the parts below add up to something we know is ours.
2. **The parts**: the residual term alone, the boundary term alone (each value and gradient
   plus Adam, points fixed), and drawing the points alone.
3. **The primitives at the step's shapes**: a float32 ``(n, 50) @ (50, 50)`` matmul and a
   ``tanh`` of ``(n, 50)``, for n = 128 and 512; and XLA's own count of one step's FLOPs
   and transcendentals (``cost_analysis``): the GFLOP/s of RESULTS §9 leave the tanh out.
4. **A forward Laplacian** (Li et al. 2023, "Forward Laplacian"): value $h$, Jacobian
   $J = \partial h/\partial x$ and Laplacian $L = \Delta h$ carried through each layer
   in one pass, the three stacked into one ``(d + 2, n) @ (n, n)`` matmul per layer:
   $z = hW + b,\ J_z = JW,\ L_z = LW$; then $h' = \tanh z$, $J' = \tanh'(z)\,J_z$,
   $L' = \tanh'(z)\,L_z + \tanh''(z)\sum_i (J_z)_i^2$. It replaces the nested `jvp`s of
   `pinnsight.laplacian` in the hand-written step; the two residuals are compared on 1,000
   points (they differ by float round-off only).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import optax

import pinnsight as ps
from pinnsight.nets.base import normalise
from pinnsight.nets.mlp import MLP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import speed  # noqa: E402

A1, A2, K = 1.0, 4.0, 1.0
N_RES, N_EDGE, WIDTH = 128, 128, 50


def exact(x):
    return jnp.sin(A1 * jnp.pi * x[0]) * jnp.sin(A2 * jnp.pi * x[1])


def forcing(x):
    return (K**2 - (A1 * jnp.pi) ** 2 - (A2 * jnp.pi) ** 2) * exact(x)


def forward_laplacian(net: MLP, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""$(f_\theta(x), \Delta f_\theta(x))$ of a tanh `MLP` in one forward pass (docstring above)."""
    d = x.shape[-1]
    h = normalise(x, net.shift, net.scale)
    jac = jnp.diag(1.0 / jnp.asarray(net.scale, x.dtype))
    lap = jnp.zeros((d,), x.dtype)
    last = len(net.kernels) - 1
    for i, (w, b) in enumerate(zip(net.kernels, net.biases, strict=True)):
        stacked = jnp.concatenate([h[None], jac, lap[None]], 0) @ w
        z, jz, lz = stacked[0] + b, stacked[1 : 1 + d], stacked[1 + d]
        if i == last:
            return z, lz
        t = jnp.tanh(z)
        dt = 1.0 - t * t
        h, jac, lap = t, dt * jz, dt * lz - 2.0 * t * dt * jnp.sum(jz * jz, 0)
    raise ValueError("the network has no layers")


def residual_nested_jvp(net, x):
    u = lambda y: net(y)[0]  # noqa: E731
    return ps.laplacian(u)(x) + K**2 * u(x) - forcing(x)


def residual_forward_laplacian(net, x):
    value, lap = forward_laplacian(net, x)
    return lap[0] + K**2 * value[0] - forcing(x)


def draw_points(key):
    """128 points in the square and 128 on each edge, as pinnsight's M1 draws them."""
    kr, kb = jax.random.split(key)
    inside = jax.random.uniform(kr, (N_RES, 2), minval=-1.0, maxval=1.0)
    along = jax.random.uniform(kb, (4, N_EDGE), minval=-1.0, maxval=1.0)
    fixed = jnp.array([-1.0, 1.0, -1.0, 1.0])[:, None] * jnp.ones((1, N_EDGE))
    xs = jnp.stack([fixed[:2], along[:2]], -1), jnp.stack([along[2:], fixed[2:]], -1)
    return inside, jnp.concatenate(xs, 0).reshape(4 * N_EDGE, 2)


def losses(residual):
    """The hand-written losses: the whole M1 loss, its two terms alone, and no model at all."""
    fixed_inside, fixed_edges = draw_points(jax.random.PRNGKey(5))

    def res_term(net, inside):
        return jnp.mean(jax.vmap(lambda x: residual(net, x))(inside) ** 2)

    def bc_term(net, edges):
        misfit = jax.vmap(lambda x: net(x)[0] - exact(x))(edges).reshape(4, N_EDGE)
        return jnp.sum(jnp.mean(misfit**2, axis=1))

    def whole(net, key):
        inside, edges = draw_points(key)
        return res_term(net, inside) + bc_term(net, edges)

    def points_only(net, key):
        inside, edges = draw_points(key)
        return jnp.sum(net.kernels[0] ** 2) + 0.0 * (jnp.sum(inside) + jnp.sum(edges))

    return {
        "whole step (hand-written)": whole,
        "residual term alone": lambda net, key: res_term(net, fixed_inside),
        "boundary terms alone": lambda net, key: bc_term(net, fixed_edges),
        "drawing the points alone": points_only,
    }


def rate_of_loss(loss, steps: int) -> tuple[float, jax.Array]:
    """µs per Adam step on ``loss`` (scanned, compile excluded, best of 3) and the last loss."""
    net = MLP((2, WIDTH, WIDTH, WIDTH, 1), key=jax.random.PRNGKey(0))
    opt = optax.adam(1e-3)

    def step(carry, _):
        params, opt_state, key = carry
        key, sub = jax.random.split(key)
        value, grads = jax.value_and_grad(loss)(params, sub)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, key), value

    run = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps))
    carry = (net, opt.init(net), jax.random.PRNGKey(1))
    return _best_time(run, carry) / steps * 1e6, run(carry)[1][-1]


def _best_time(fn, arg, repeats: int = 3) -> float:
    jax.block_until_ready(fn(arg))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        best = min(best, time.perf_counter() - t0)
    return best


def primitive_us(op, rows: int, steps: int) -> float:
    """µs per application of ``op`` to a ``(rows, 50)`` array, chained in a scan."""
    x = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (rows, WIDTH))
    run = jax.jit(lambda c: jax.lax.scan(lambda h, _: (op(h), None), c, None, length=steps)[0])
    return _best_time(run, x) / steps * 1e6


def pinnsight_step(steps: int) -> tuple[float, float, float]:
    """µs per step of pinnsight's own M1 step; XLA's FLOPs and transcendentals of one step."""
    config = ps.RunConfig.create(problem="helmholtz", recipe="M1")
    step, state = speed.step_and_state(config)
    cost = jax.jit(step).lower(state).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    rate = speed.best_rate(step, state, steps)
    return 1e6 / rate, float(cost["flops"]), float(cost.get("transcendentals", float("nan")))


def timed_rows(steps: int) -> dict[str, float]:
    """One round of every timed row: µs per step."""
    rows = {"pinnsight M1 step (`speed.step_and_state`)": pinnsight_step(steps)[0]}
    for name, loss in losses(residual_nested_jvp).items():
        rows[name] = rate_of_loss(loss, steps)[0]
    forward = losses(residual_forward_laplacian)
    rows["whole step, forward Laplacian"] = rate_of_loss(forward["whole step (hand-written)"], steps)[0]
    rows["residual term alone, forward Laplacian"] = rate_of_loss(forward["residual term alone"], steps)[0]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000, help="steps per timed scan")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the timed rows, interleaved")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    print(f"# step anatomy: {platform.machine()}, affinity {cores}, JAX {jax.__version__}, float32\n")
    rounds = [timed_rows(args.steps) for _ in range(args.rounds)]
    print("| what | µs / step, round " + " / ".join(str(i + 1) for i in range(args.rounds)) + " |")
    print("|---|---:|")
    for name in rounds[0]:
        print(f"| {name} | " + " / ".join(f"{r[name]:.0f}" for r in rounds) + " |")
    w = 0.1 * jax.random.normal(jax.random.PRNGKey(0), (WIDTH, WIDTH))
    print("\n| primitive | n = 128 µs | n = 512 µs |\n|---|---:|---:|")
    for name, op in (("(n,50) @ (50,50)", lambda h: h @ w), ("tanh (n,50)", jnp.tanh)):
        small, large = (primitive_us(op, n, 5 * args.steps) for n in (N_RES, 4 * N_EDGE))
        print(f"| {name} | {small:.1f} | {large:.1f} |")
    us, flops, trans = pinnsight_step(args.steps)
    print(
        f"\nXLA's count of one pinnsight M1 step: {flops / 1e6:.1f} MFLOP, "
        f"{trans / 1e3:.1f} k transcendentals; {flops / us / 1e3:.1f} GFLOP/s at {us:.0f} µs / step"
    )
    net = MLP((2, WIDTH, WIDTH, WIDTH, 1), key=jax.random.PRNGKey(0))
    pts = jax.random.uniform(jax.random.PRNGKey(3), (1000, 2), minval=-1.0, maxval=1.0)
    a = jax.vmap(lambda x: residual_nested_jvp(net, x))(pts)
    b = jax.vmap(lambda x: residual_forward_laplacian(net, x))(pts)
    diff = float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a)))
    print(
        f"forward Laplacian against nested jvp, 1,000 points: max |difference| / max |residual| = {diff:.1e}"
    )


if __name__ == "__main__":
    main()
