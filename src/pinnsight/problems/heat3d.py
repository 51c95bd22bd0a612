r"""The heat equation in two space dimensions and time: a 3D problem with a $10^6$-point reference.

$$ u_t = \kappa\,(u_{xx} + u_{yy}) \ \text{on}\ (t, x, y)\in[0,1]^3,\qquad
   u(0, x, y) = \sin(\pi x)\sin(\pi y),\qquad u = 0 \ \text{on}\ x\in\{0,1\},\ y\in\{0,1\}, $$

with the exact solution (separation of variables: the $(1,1)$ sine mode decays at the rate
$\kappa(\pi^2 + \pi^2)$)

$$ u(t, x, y) = \sin(\pi x)\,\sin(\pi y)\,e^{-2\kappa\pi^2 t}. $$

Inputs $(t, x, y)$, time first as in ``klein_gordon`` and ``burgers`` (so
`pinnsight.weighting.causal` finds it on axis 0); the initial condition is the group
``"ic"``, the four walls the group ``"bc"``. The reference is the exact solution on a
``resolution``³ tensor grid: $10^6$ points by default, which is why the error after each
chunk is measured on a subsample (``run.eval_points``) and the whole grid only at the end.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..autodiff import laplacian, partial
from ..geometry import Box
from ..problem import Condition, Problem
from . import gauss_newton_recipe, register


@register(
    "heat3d",
    "2D heat equation u_t = kappa (u_xx + u_yy) on [0,1]^2 x [0,1], inputs (t, x, y); 10^6-point reference",
    defaults={"net.layers": (3, 50, 50, 50, 1)},
    rules={"kappa": "positive", "resolution": (2, 200)},
    recipes={
        # docs/RESULTS.md §7: the Helmholtz/Klein–Gordon recipe on a 3-20-20-20-1 net.
        "best": gauss_newton_recipe(
            (3, 20, 20, 20, 1),
            {"residual": 4096, "ic": 512, "bc_xlo": 256, "bc_xhi": 256, "bc_ylo": 256, "bc_yhi": 256},
            steps=1300,
        ),
    },
)
def make(kappa: float = 0.1, resolution: int = 100) -> Problem:
    """The heat equation with diffusivity ``kappa``, its reference on a ``resolution``³ grid."""

    def exact(x: jax.Array) -> jax.Array:
        t, s, r = x[0], x[1], x[2]
        return jnp.sin(jnp.pi * s) * jnp.sin(jnp.pi * r) * jnp.exp(-2.0 * kappa * jnp.pi**2 * t)

    def residual(u, x):
        return partial(u, 0)(x) - kappa * laplacian(u, axes=(1, 2))(x)

    def value(u, x):
        return u(x) - exact(x)

    domain = Box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), names=("t", "x", "y"))
    walls = {
        f"bc_{axis}{side}": Condition(domain.face(axis, side), value, group="bc")
        for axis in ("x", "y")
        for side in ("lo", "hi")
    }
    return Problem(
        name="heat3d",
        domain=domain,
        residual=residual,
        conditions={"ic": Condition(domain.face("t", "lo"), value, group="ic"), **walls},
        exact=exact,
        eval_resolution=resolution,
        params={"kappa": kappa, "resolution": resolution},
    )
