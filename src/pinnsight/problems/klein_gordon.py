r"""1D nonlinear Klein–Gordon equation (PAPER §6; Wang et al. 2021, §6.2).

$$ u_{tt} - u_{xx} + u^3 = f \ \text{on}\ (t,x)\in[0,1]^2,\qquad
   u(t,x) = x\cos(5\pi t) + (xt)^3 , $$

$f$ from the exact solution; initial conditions $u(0,x) = x$, $u_t(0,x) = 0$ (one
weight group ``"ic"``), Dirichlet data at $x = 0$ and $x = 1$ (group ``"bc"``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..autodiff import partial
from ..geometry import Box
from ..problem import Condition, Problem
from . import gauss_newton_recipe, register


@register(
    "klein_gordon",
    "1D nonlinear Klein-Gordon u_tt - u_xx + u^3 = f, inputs (t, x) (paper §6)",
    defaults={"net.layers": (2, 50, 50, 50, 50, 50, 1)},
    recipes={
        # docs/RESULTS.md §7: Adam 1000 steps to a rough fit, then 300 Gauss-Newton steps in
        # float64 on 4096 fixed residual points (a net of 921 parameters: J^T J is 921^2).
        "best": gauss_newton_recipe(
            (2, 20, 20, 20, 1),
            {"residual": 4096, "ic_u": 256, "ic_ut": 256, "bc_x0": 256, "bc_x1": 256},
            steps=1300,
        )
    },
)
def make() -> Problem:
    """The Klein–Gordon benchmark with the paper's exact solution."""

    def exact(x: jax.Array) -> jax.Array:
        t, s = x[0], x[1]
        return s * jnp.cos(5 * jnp.pi * t) + (s * t) ** 3

    def forcing(x: jax.Array) -> jax.Array:
        return partial(exact, 0, 2)(x) - partial(exact, 1, 2)(x) + exact(x) ** 3

    def residual(u, x):
        return partial(u, 0, 2)(x) - partial(u, 1, 2)(x) + u(x) ** 3 - forcing(x)

    def value(u, x):
        return u(x) - exact(x)

    def velocity(u, x):
        return partial(u, 0)(x)  # u_t(0, x) = 0

    domain = Box((0.0, 0.0), (1.0, 1.0), names=("t", "x"))
    initial = domain.face("t", "lo")
    return Problem(
        name="klein_gordon",
        domain=domain,
        residual=residual,
        conditions={
            "ic_u": Condition(initial, value, group="ic"),
            "ic_ut": Condition(initial, velocity, group="ic"),
            "bc_x0": Condition(domain.face("x", "lo"), value, group="bc"),
            "bc_x1": Condition(domain.face("x", "hi"), value, group="bc"),
        },
        exact=exact,
        params={},
    )
