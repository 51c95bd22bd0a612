"""Your own PDE in ~15 lines: -Δu = 2π² sin(πx) sin(πy) on [0,1]², u = 0 on the boundary."""

import jax
import jax.numpy as jnp

import pinnsight as ps

exact = lambda x: jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])  # noqa: E731
box = ps.Box((0.0, 0.0), (1.0, 1.0))
problem = ps.Problem(
    name="poisson2d",
    domain=box,
    residual=lambda u, x: ps.laplacian(u)(x) + 2 * jnp.pi**2 * exact(x),
    conditions={
        f"wall_{a}{s}": ps.Condition(box.face(a, s), lambda u, x: u(x), group="bc")
        for a in "xy"
        for s in ("lo", "hi")
    },
    exact=exact,
)

if __name__ == "__main__":  # `pinnsight doctor examples/poisson2d.py` loads `problem` without training
    net = ps.MLP((2, 32, 32, 1), key=jax.random.PRNGKey(0), shift=(0.5, 0.5), scale=(0.29, 0.29))
    result = ps.fit(
        problem, net, ps.annealing(), steps=3000, key=jax.random.PRNGKey(1), callbacks=[ps.ProgressBar()]
    )
    print(f"relative L2 error: {result.summary['final_error']:.2e}")
