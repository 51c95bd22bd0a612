r"""2D Helmholtz equation (PAPER §6; Wang, Teng & Perdikaris 2021, §2.3 and §6.1).

$$ \Delta u + k^2 u = q \ \text{on}\ [-1,1]^2,\qquad u = 0 \ \text{on the boundary},$$
$$ u(x,y) = \sin(a_1\pi x)\sin(a_2\pi y),\qquad
   q = \big(k^2 - (a_1\pi)^2 - (a_2\pi)^2\big)\,u .$$

The four edges are four conditions sharing one weight group ``"bc"``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..autodiff import laplacian
from ..geometry import Box
from ..problem import Condition, Problem
from . import gauss_newton_recipe, register


@register(
    "helmholtz",
    "2D Helmholtz, u = sin(a1 pi x) sin(a2 pi y) on [-1,1]^2 (paper §6)",
    defaults={"net.layers": (2, 50, 50, 50, 1)},
    rules={"a1": "nonzero", "a2": "nonzero"},
    recipes={
        # docs/RESULTS.md §7: Adam 1000 steps to a rough fit, then 600 Gauss-Newton steps in
        # float64 on 4096 fixed residual points (a net of 921 parameters: J^T J is 921^2).
        "best": gauss_newton_recipe(
            (2, 20, 20, 20, 1),
            {"residual": 4096, "bc_xlo": 256, "bc_xhi": 256, "bc_ylo": 256, "bc_yhi": 256},
            steps=1600,
        )
    },
)
def make(a1: float = 1.0, a2: float = 4.0, k: float = 1.0) -> Problem:
    """The Helmholtz benchmark with frequencies ``a1, a2`` and wave number ``k``."""

    def exact(x: jax.Array) -> jax.Array:
        return jnp.sin(a1 * jnp.pi * x[0]) * jnp.sin(a2 * jnp.pi * x[1])

    def forcing(x: jax.Array) -> jax.Array:
        return (k**2 - (a1 * jnp.pi) ** 2 - (a2 * jnp.pi) ** 2) * exact(x)

    def residual(u, x):
        return laplacian(u)(x) + k**2 * u(x) - forcing(x)

    def dirichlet(u, x):
        return u(x) - exact(x)

    domain = Box((-1.0, -1.0), (1.0, 1.0))
    edges = {
        f"bc_{axis}{side}": Condition(domain.face(axis, side), dirichlet, group="bc")
        for axis in ("x", "y")
        for side in ("lo", "hi")
    }
    return Problem(
        name="helmholtz",
        domain=domain,
        residual=residual,
        conditions=edges,
        exact=exact,
        params={"a1": a1, "a2": a2, "k": k},
    )
