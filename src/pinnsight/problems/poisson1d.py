r"""1D Poisson equation, the paper's analysis example (PAPER §2; Wang et al. 2021, §2.4).

$$ u''(x) = g(x) \ \text{on}\ [0, 1],\qquad u(0) = h(0),\ u(1) = h(1),\qquad
   u(x) = \sin(Cx),\ g(x) = -C^2\sin(Cx). $$

For a network $u_\theta = u + \epsilon_\theta$ the paper bounds
$\|\nabla_\theta\mathcal{L}_b\|_\infty \le 2\epsilon\|\nabla_\theta\epsilon_\theta\|_\infty$ but
$\|\nabla_\theta\mathcal{L}_r\|_\infty \le O(C^4)\,\epsilon\|\nabla_\theta\epsilon_\theta\|_\infty$:
the imbalance between the two terms grows like $C^4$.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..autodiff import laplacian
from ..geometry import Box
from ..problem import Condition, Problem
from . import gauss_newton_recipe, register


@register(
    "poisson1d",
    "1D Poisson u'' = g on [0,1], u = sin(C x) (the paper's imbalance example)",
    defaults={"net.layers": (1, 50, 50, 50, 1)},
    rules={"C": "nonzero"},
    recipes={
        # docs/RESULTS.md §7 (C = 4): the Helmholtz/Klein–Gordon recipe on a 1-20-20-20-1 net.
        "best": gauss_newton_recipe(
            (1, 20, 20, 20, 1), {"residual": 1024, "bc_lo": 64, "bc_hi": 64}, steps=1300
        ),
    },
)
def make(C: float = 4.0) -> Problem:
    """The 1D Poisson problem with exact solution $\\sin(Cx)$."""

    def exact(x: jax.Array) -> jax.Array:
        return jnp.sin(C * x[0])

    def residual(u, x):
        return laplacian(u)(x) + C**2 * jnp.sin(C * x[0])

    def dirichlet(u, x):
        return u(x) - exact(x)

    domain = Box((0.0,), (1.0,), names=("x",))
    return Problem(
        name="poisson1d",
        domain=domain,
        residual=residual,
        conditions={
            "bc_lo": Condition(domain.face(0, "lo"), dirichlet, group="bc"),
            "bc_hi": Condition(domain.face(0, "hi"), dirichlet, group="bc"),
        },
        exact=exact,
        eval_resolution=1000,
        params={"C": C},
    )
