r"""Viscous Burgers equation with a shock (PAPER §6, the motivation example).

$$ u_t + u u_x = \nu u_{xx},\quad x\in[-1,1],\ t\in[0,1],\quad \nu = 0.01/\pi,\quad
   u(0,x) = -\sin\pi x,\quad u(t,\pm1) = 0 . $$

Inputs $(t, x)$; initial condition group ``"ic"``, boundary group ``"bc"``. The
reference is the exact Cole–Hopf solution (`pinnsight.reference.burgers_cole_hopf`) on
the classic grid: $t = 0, 0.01, ..., 0.99$ and 256 points in $x$.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..autodiff import partial, value_and_partials
from ..geometry import Box
from ..problem import Condition, Problem, Reference
from ..reference.burgers import burgers_cole_hopf
from . import gauss_newton_recipe, register


@register(
    "burgers",
    "viscous Burgers u_t + u u_x = nu u_xx with a shock, inputs (t, x)",
    defaults={"net.layers": (2, 50, 50, 50, 50, 1)},
    rules={"nu": "positive"},
    recipes={
        # The set-up behind Burgers' best number (docs/RESULTS.md §10): 2,000 Adam steps on a
        # small MLP, then 500 Gauss-Newton steps in float64 on 4,000 residual points drawn by
        # RAD (k = 2, a 32,768-point pool) and re-drawn every 25 steps (one chunk), where the
        # residual is large: at the shock. On fixed points Gauss-Newton fits them and not the
        # shock between them (loss 8e-10, error 6e-3; §10).
        "best": gauss_newton_recipe(
            (2, 20, 20, 20, 20, 1),
            {"residual": 4000, "ic": 256, "bc_left": 128, "bc_right": 128},
            steps=2500,
            adam_steps=2000,
        )
        | {"sampling.kind": "rad", "sampling.pool": 32768, "sampling.k": 2.0, "run.chunk_size": 25},
        # The paper's M4 (modified MLP, annealing) with the reproduction's 512 residual points
        # per step (`experiments.reproduce.SETTINGS`): 4.57e-3 over 3 seeds (§3).
        "paper_m4": {
            "net.kind": "modified_mlp",
            "weighting.kind": "annealing",
            "sampling.batch_size": {"residual": 512},
        },
        # Untuned (no number behind it): the later recipe of the same lab (jaxpi's burgers
        # example, PirateNets arXiv:2402.00326, causal training arXiv:2203.07404, RAD): a
        # PirateNet, causal weights, RAD points, Adam then L-BFGS on fixed points with frozen
        # weights from the switch step on. A starting point for issue 10's search.
        "pirate_causal": {
            "net.kind": "pirate",
            "net.layers": (2, 128, 128, 128, 1),
            "weighting.kind": "causal",
            "weighting.epsilon": 1.0,
            "weighting.slices": 16,
            "sampling.kind": "rad",
            "sampling.batch_size": {"residual": 2048},
            "optim.kind": "adam_lbfgs",
            "optim.decay_steps": 2000,
            "optim.switch_step": 20_000,
            "sampling.fixed_from": 20_000,
            "weighting.freeze_from": 20_000,
            "run.steps": 25_000,
        },
    },
)
def make(nu: float = 0.01 / np.pi) -> Problem:
    """Burgers with viscosity ``nu``."""

    def residual(u, x):
        val, ux, uxx = value_and_partials(u, 1)(x)
        return partial(u, 0)(x) + val * ux - nu * uxx

    def initial(u, x):
        return u(x) + jnp.sin(jnp.pi * x[1])

    def wall(u, x):
        return u(x)

    def reference() -> Reference:
        t = np.arange(100) * 0.01
        x = np.linspace(-1.0, 1.0, 256)
        return Reference.on_grid(
            (t, x), lambda tt, xx: burgers_cole_hopf(tt, xx, nu=nu), label="Cole-Hopf (exact)"
        )

    domain = Box((0.0, -1.0), (1.0, 1.0), names=("t", "x"))
    return Problem(
        name="burgers",
        domain=domain,
        residual=residual,
        conditions={
            "ic": Condition(domain.face("t", "lo"), initial, group="ic"),
            "bc_left": Condition(domain.face("x", "lo"), wall, group="bc"),
            "bc_right": Condition(domain.face("x", "hi"), wall, group="bc"),
        },
        reference=reference,
        params={"nu": nu},
    )
