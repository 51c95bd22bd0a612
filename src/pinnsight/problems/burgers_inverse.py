r"""Burgers' equation as an inverse problem: learn $\lambda_1$ and $\nu$ from scattered data.

$$ u_t + \lambda_1 u u_x - \nu u_{xx} = 0,\quad x\in[-1,1],\ t\in[0,1], $$

with the truth $\lambda_1 = 1$, $\nu = 0.01/\pi$ (Raissi, Perdikaris & Karniadakis,
J. Comput. Phys. 378, 2019, §4.1.1). The only constraint is the data term ``"data"``:
``n_data`` observations of the exact Cole–Hopf solution (`pinnsight.reference.burgers`) at
uniformly random $(t, x)$ (drawn with ``seed_data``), with Gaussian noise of standard
deviation ``noise`` times the standard deviation of the clean values (Raissi et al.'s
convention: ``noise=0.01`` is "1 % noise"). No initial or boundary data. Both
coefficients are trainable (`pinnsight.Coefficient`): $\lambda_1$ from ``lambda1_init``,
$\nu > 0$ from ``nu_init``; the defaults are Raissi et al.'s initial values,
$\lambda_1 = 0$ and $\nu = e^{-6}\approx 0.00248$ (their ``lambda_2 = -6`` in log space).
The error is measured on the classic $100\times256$ grid.
"""

from __future__ import annotations

import numpy as np

from ..autodiff import partial, value_and_partials
from ..coefficients import Coefficient
from ..geometry import Box
from ..observations import Observations
from ..problem import Problem, Reference
from ..reference.burgers import burgers_cole_hopf
from . import register

NU_TRUE = 0.01 / np.pi
LAMBDA1_TRUE = 1.0


def observations(
    n_data: int = 2000, noise: float = 0.0, seed_data: int = 0, nu: float = NU_TRUE
) -> tuple[np.ndarray, np.ndarray]:
    """``(points (n, 2), values (n, 1))``: the exact solution at uniform random ``(t, x)``,
    plus ``noise`` × std(values) Gaussian noise (clean points and noise from ``seed_data``)."""
    rng = np.random.default_rng(seed_data)
    t = rng.uniform(0.0, 1.0, n_data)
    x = rng.uniform(-1.0, 1.0, n_data)
    u = burgers_cole_hopf(t, x, nu=nu)
    u_noisy = u + noise * np.std(u) * rng.standard_normal(n_data)
    return np.stack([t, x], axis=-1), u_noisy[:, None]


@register(
    "burgers_inverse",
    "inverse Burgers: learn lambda1 and nu of u_t + lambda1 u u_x = nu u_xx from n_data observations",
    defaults={"net.layers": (2, 20, 20, 20, 20, 20, 20, 20, 20, 1)},
    rules={"noise": (0.0, 1.0), "n_data": "positive", "nu_init": "positive"},
    recipes={
        # The set-up behind docs/RESULTS.md §8 (what examples/burgers_inverse.py runs): 2,000
        # Adam steps on 2,000 fresh residual points, then 20,000 L-BFGS steps (memory 50) on
        # 2,000 fixed ones, in float64 — in float32 L-BFGS stalls (the parameters stop moving) with nu
        # up to 0.7 % off (§8). §8 draws the observations with the run's seed too:
        # `--set problem.seed_data=SEED`.
        "best": {
            "optim.kind": "adam_lbfgs",
            "optim.switch_step": 2000,
            "optim.memory_size": 50,
            "sampling.fixed_from": 2000,
            "sampling.batch_size": {"residual": 2000},
            "run.steps": 22000,
            "run.x64": True,
        },
    },
)
def make(
    noise: float = 0.0,
    seed_data: int = 0,
    n_data: int = 2000,
    lambda1_init: float = 0.0,
    nu_init: float = float(np.exp(-6.0)),
    whole_data: bool = True,
) -> Problem:
    """Inverse Burgers: ``n_data`` observations with relative noise ``noise``; initial guesses
    ``lambda1_init``, ``nu_init``; ``whole_data``: every observation in every step (else a
    mini-batch of ``sampling.batch_size`` rows)."""
    if seed_data < 0:
        raise ValueError(f"parameter `seed_data` of problem 'burgers_inverse' must be >= 0, got {seed_data}.")
    pts, vals = observations(n_data, noise, seed_data)

    def residual(u, x, c):
        val, ux, uxx = value_and_partials(u, 1)(x)
        return partial(u, 0)(x) + c["lambda1"] * val * ux - c["nu"] * uxx

    def reference() -> Reference:
        t = np.arange(100) * 0.01
        x = np.linspace(-1.0, 1.0, 256)
        return Reference.on_grid(
            (t, x), lambda tt, xx: burgers_cole_hopf(tt, xx, nu=NU_TRUE), label="Cole-Hopf (exact)"
        )

    domain = Box((0.0, -1.0), (1.0, 1.0), names=("t", "x"))
    label = f"{n_data} Cole-Hopf observations, noise {noise:g}, seed {seed_data}"
    return Problem(
        name="burgers_inverse",
        domain=domain,
        residual=residual,
        conditions={"data": Observations(pts, vals, whole=whole_data, label=label)},
        coefficients={
            "lambda1": Coefficient(lambda1_init, true=LAMBDA1_TRUE),
            "nu": Coefficient(nu_init, positive=True, true=NU_TRUE),
        },
        reference=reference,
        params={
            "noise": noise,
            "seed_data": seed_data,
            "n_data": n_data,
            "lambda1_init": lambda1_init,
            "nu_init": nu_init,
            "whole_data": whole_data,
        },
    )
