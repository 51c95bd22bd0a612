r"""Gauss–Newton (Levenberg–Marquardt) steps for small networks, as an optax transformation.

A PINN loss is a sum of squares: with $r(\theta)\in\mathbb{R}^M$ every weighted residual
and misfit of the step's points stacked, $r_k = \sqrt{\lambda_{t(k)}/N_{t(k)}}\,m_k(\theta)$,

$$ \mathcal{L}(\theta) = \|r(\theta)\|^2, \qquad J = \partial r/\partial\theta \in \mathbb{R}^{M\times P}. $$

The Gauss–Newton direction solves the damped normal equations (Levenberg 1944;
Marquardt 1963)

$$ (J^\top J + \mu I)\,d = J^\top r , $$

and the step is $\theta \leftarrow \theta - \eta^\ast d$ with $\eta^\ast$ the best of
$\eta\in\{1, \tfrac12, \dots, 2^{-(K-1)}\}$ on the same points (the grid line search of
the energy natural gradient, Müller & Zeinhofer, "Achieving high accuracy with PINNs via
energy natural gradient descent", ICML 2023, whose Gram matrix for a linear PDE is exactly
$J^\top J$). $\mu = \rho\,\mathrm{tr}(J^\top J)/P$ with $\rho$ adapted as in
Levenberg–Marquardt: divided by ``shrink`` after a step that lowers the loss, multiplied by
``grow`` (and no step taken) when none does.

The Jacobian is dense ($M\times P$) and $J^\top J$ is $P\times P$, solved by Cholesky
(`lineax`): meant for networks of a few thousand parameters at most (the cost per step is
$O(MP^2)$); `pinnsight.optim.OPTIMIZERS` refuses nothing, so choose the net accordingly.
Run it in float64 (``run.x64``) on fixed points (``sampling.fixed_from``) with frozen
weights: the config tree's ``optim.polish = "gauss_newton"`` arranges the last two.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import optax
from jax.flatten_util import ravel_pytree

__all__ = ["gauss_newton", "GaussNewtonState"]


class GaussNewtonState(NamedTuple):
    rho: jax.Array
    """Relative damping $\\rho$: $\\mu = \\rho\\,\\mathrm{tr}(J^\\top J)/P$."""
    count: jax.Array
    """Steps taken."""


def gauss_newton(
    damping: float = 1e-6,
    line_search: int = 12,
    shrink: float = 3.0,
    grow: float = 10.0,
    min_damping: float = 1e-12,
) -> optax.GradientTransformationExtraArgs:
    r"""Levenberg–Marquardt steps on the stacked residual vector (module docstring).

    ``update`` needs the extra argument ``value_fn`` with a ``residuals`` attribute,
    ``(params, with_jacobian) -> r`` or ``(r, J)``: $\|r\|^2$ the step's weighted loss,
    $J$'s columns in `jax.flatten_util.ravel_pytree` order (`pinnsight.losses.WeightedLoss`;
    the training step passes one).

    Args:
        damping: initial relative damping $\rho_0$.
        line_search: number $K$ of step sizes $2^{-k}$ tried, $k = 0..K-1$.
        shrink: $\rho \leftarrow \rho/\text{shrink}$ after a successful step.
        grow: $\rho \leftarrow \rho\cdot\text{grow}$ when no step size lowers the loss.
        min_damping: lower bound of $\rho$.
    """
    if damping <= 0 or min_damping <= 0:
        raise ValueError(f"`damping` and `min_damping` must be > 0, got {damping}, {min_damping}.")
    if int(line_search) < 1:
        raise ValueError(f"`line_search` must be >= 1 step size, got {line_search}.")
    if shrink <= 1 or grow <= 1:
        raise ValueError(f"`shrink` and `grow` must be > 1, got shrink = {shrink}, grow = {grow}.")
    etas = 2.0 ** -jnp.arange(int(line_search))

    def init(params: Any) -> GaussNewtonState:
        flat, _ = ravel_pytree(params)
        return GaussNewtonState(jnp.asarray(damping, flat.dtype), jnp.asarray(0, jnp.int32))

    def update(updates: Any, state: GaussNewtonState, params: Any = None, *, value_fn=None, **extra):
        del updates, extra
        residuals_fn = getattr(value_fn, "residuals", None)
        if params is None or residuals_fn is None:
            raise ValueError(
                "gauss_newton needs `params` and a `value_fn` with `.residuals` "
                "(pinnsight.losses.WeightedLoss; pinnsight's training step passes one)."
            )
        flat, unravel = ravel_pytree(params)

        def res(theta):
            return residuals_fn(unravel(theta))

        r, jac = residuals_fn(params, with_jacobian=True)
        gram = jac.T @ jac
        mu = state.rho * jnp.trace(gram) / flat.size
        op = lx.MatrixLinearOperator(
            gram + mu * jnp.eye(flat.size, dtype=gram.dtype), lx.positive_semidefinite_tag
        )
        d = lx.linear_solve(op, jac.T @ r, solver=lx.Cholesky(), throw=False).value
        d = jnp.where(jnp.all(jnp.isfinite(d)), d, 0.0)  # a failed factorisation: no step, more damping
        loss0 = jnp.sum(r**2)
        trial = jax.vmap(lambda eta: jnp.sum(res(flat - eta * d) ** 2))(etas.astype(flat.dtype))
        trial = jnp.where(jnp.isfinite(trial), trial, jnp.inf)
        best = jnp.argmin(trial)
        ok = trial[best] < loss0
        eta = jnp.where(ok, etas[best].astype(flat.dtype), 0.0)
        rho = jnp.where(ok, jnp.maximum(state.rho / shrink, min_damping), state.rho * grow)
        return unravel(-eta * d), GaussNewtonState(rho, state.count + 1)

    return optax.GradientTransformationExtraArgs(init, update)
