r"""Per-term losses and gradients, the one weighted total, NTK diagonals, and the error metric.

The weighted loss (PAPER eq. 2, with a weight on every term):
$\mathcal{L} = \lambda_r\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$, where a group's loss
$\mathcal{L}_g$ is the sum of its conditions' losses. `weighted_total` and
`weighted_gradient` are the only places that formula is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .problem import Problem

DrawFn = Callable[[jax.Array, int], jax.Array]
PointWeights = Callable[[jax.Array, jax.Array], jax.Array]

DEFAULT_BATCH_SIZE = 128
"""Points per term per step when none is given (PAPER §5)."""

RESIDUAL = "residual"

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "batch_sizes",
    "sample_points",
    "term_losses_and_gradients",
    "term_gradients",
    "group_losses",
    "weighted_total",
    "weighted_gradient",
    "total_loss_fn",
    "ntk_diagonal",
    "relative_l2",
]


def batch_sizes(problem: Problem, batch_size: int | Mapping[str, int]) -> dict[str, int]:
    """Points per sampler per step for ``"residual"`` and each condition (checked)."""
    names = (RESIDUAL, *problem.conditions)
    if isinstance(batch_size, int):
        sizes = dict.fromkeys(names, batch_size)
    else:
        unknown = set(batch_size) - set(names)
        if unknown:
            raise ValueError(f"batch sizes name unknown terms {sorted(unknown)}; terms: {', '.join(names)}.")
        sizes = {n: int(batch_size.get(n, DEFAULT_BATCH_SIZE)) for n in names}
    for n, v in sizes.items():
        if v < 1:
            raise ValueError(f"batch size of {n!r} must be >= 1, got {v}.")
    return sizes


def sample_points(
    problem: Problem, key: jax.Array, sizes: Mapping[str, int], draw_residual: DrawFn | None = None
) -> dict[str, jax.Array]:
    """Fresh points for ``"residual"`` and each condition.

    The residual points come from ``draw_residual(key, n)`` (default: uniform on the
    domain, PAPER §5); the conditions' points are always uniform on their sets.
    """
    conds = list(problem.conditions)
    keys = jax.random.split(key, len(conds) + 1)
    draw_residual = draw_residual or problem.domain.sample
    pts = {RESIDUAL: draw_residual(keys[0], sizes[RESIDUAL])}
    for k, c in zip(keys[1:], conds, strict=True):
        pts[c] = problem.conditions[c].sample(k, sizes[c])
    return pts


def term_losses_and_gradients(
    problem: Problem, static, params, pts: Mapping[str, jax.Array], point_weights: PointWeights | None = None
) -> tuple[dict[str, jax.Array], dict[str, Any]]:
    """Losses and gradients of the residual and each weight group on the given points.

    Returns ``(losses, grads)``: ``losses`` per term (``"residual"`` and each
    condition), ``grads`` per ``"residual"`` and each group (unweighted). One
    `jax.value_and_grad` per term: the terms live on different points, so this costs the
    same as one gradient of the sum. ``point_weights(points, squared_residuals)``, if
    given, weighs the residual's points (under `jax.lax.stop_gradient`).
    """

    def res_loss(p):
        net = eqx.combine(p, static)
        if point_weights is None:
            return problem.residual_loss(net, pts[RESIDUAL])
        sq = jnp.sum(problem.residuals(net, pts[RESIDUAL]) ** 2, axis=-1)
        w = jax.lax.stop_gradient(point_weights(pts[RESIDUAL], sq))
        return jnp.mean(w * sq)

    losses, grads = {}, {}
    losses[RESIDUAL], grads[RESIDUAL] = jax.value_and_grad(res_loss)(params)
    for g in problem.groups:
        members = problem.members(g)

        def group_loss(p, members=members):
            net = eqx.combine(p, static)
            parts = {c: problem.condition_loss(c, net, pts[c]) for c in members}
            return sum(parts.values()), parts

        (_, parts), grads[g] = jax.value_and_grad(group_loss, has_aux=True)(params)
        losses.update(parts)
    return losses, grads


def term_gradients(
    problem: Problem, static, params, key, sizes: Mapping[str, int], draw_residual: DrawFn | None = None
):
    """`term_losses_and_gradients` on fresh points drawn from ``key``."""
    pts = sample_points(problem, key, sizes, draw_residual)
    return term_losses_and_gradients(problem, static, params, pts)


def group_losses(problem: Problem, losses: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
    r"""$\mathcal{L}_r$ and each group's loss $\mathcal{L}_g = \sum_{c\in g}\mathcal{L}_c$."""
    out = {RESIDUAL: losses[RESIDUAL]}
    for g in problem.groups:
        out[g] = sum(losses[c] for c in problem.members(g))
    return out


def weighted_total(
    weights: Mapping[str, jax.Array], term_losses: Mapping[str, jax.Array], residual_weighted: bool = True
) -> jax.Array:
    r"""$\lambda_r\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ (terms as in ``weights``).

    With ``residual_weighted=False`` the residual enters with weight 1 and no product, so
    the paper's models keep their exact floating-point trajectories (XLA fuses ``a + w b``
    differently from ``1·a + w b``).
    """
    groups = [g for g in term_losses if g != RESIDUAL]  # the problem's order, not the pytree's (sorted)
    res = weights[RESIDUAL] * term_losses[RESIDUAL] if residual_weighted else term_losses[RESIDUAL]
    return res + sum(weights[g] * term_losses[g] for g in groups)


def weighted_gradient(
    weights: Mapping[str, jax.Array], grads: Mapping[str, Any], residual_weighted: bool = True
) -> Any:
    r"""$\lambda_r\nabla\mathcal{L}_r + \sum_g\lambda_g\nabla\mathcal{L}_g$, summed term by term in
    order (``residual_weighted`` as in `weighted_total`)."""
    total = grads[RESIDUAL]
    if residual_weighted:
        total = jax.tree_util.tree_map(lambda a: weights[RESIDUAL] * a, total)
    for g in grads:  # the problem's order: float sums depend on it
        if g != RESIDUAL:
            total = jax.tree_util.tree_map(lambda a, b, w=weights[g]: a + w * b, total, grads[g])
    return total


def total_loss_fn(problem: Problem, static, weights: Mapping[str, Any], points: Mapping[str, jax.Array]):
    r"""$\theta\mapsto\lambda_r\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ on fixed ``points``.

    ``weights`` name ``"residual"`` (default 1) and each group; a zero weight drops the term.
    """

    def loss(params):
        net = eqx.combine(params, static)
        w_r = weights.get(RESIDUAL, 1.0)
        dropped = isinstance(w_r, int | float) and w_r == 0
        total = 0.0 if dropped else w_r * problem.residual_loss(net, points[RESIDUAL])
        for c in problem.conditions:
            total = total + weights[problem.group_of(c)] * problem.condition_loss(c, net, points[c])
        return total

    return loss


def weighted_residuals_fn(
    problem: Problem, static, weights: Mapping[str, Any], points: Mapping[str, jax.Array]
):
    r"""$\theta\mapsto (r, J)$: every residual and misfit on ``points`` stacked and scaled by
    $\sqrt{\lambda_t/N_t}$, so that $\|r\|^2$ is `total_loss_fn`'s value (the sum-of-squares
    form Gauss–Newton steps need; point weights are not applied), and its Jacobian
    $J = \partial r/\partial\theta$ with the columns in `jax.flatten_util.ravel_pytree`
    order of the parameters.

    The function takes ``(params, with_jacobian)``; $J$ is built point by point (one
    reverse pass per point, `jax.vmap` over the points), so its memory is that of $J$.
    """

    def per_point(params):
        """[(point function (params, x) -> scaled values, points)] for every term."""
        out = []

        def residual(p, x, n=points[RESIDUAL].shape[0]):
            r = problem.residual_function(eqx.combine(p, static))(x)
            return jnp.sqrt(weights.get(RESIDUAL, 1.0) / n) * r.ravel()

        out.append((residual, points[RESIDUAL]))
        for c in problem.conditions:

            def misfit(p, x, c=c, n=points[c].shape[0]):
                u = problem.point_function(eqx.combine(p, static))
                m = jnp.atleast_1d(problem.conditions[c].misfit(u, x))
                return jnp.sqrt(weights[problem.group_of(c)] / n) * m.ravel()

            out.append((misfit, points[c]))
        return out

    def residuals(params, with_jacobian: bool = False):
        flat, unravel = ravel_pytree(params)
        rs, js = [], []
        for fn, pts in per_point(params):
            rs.append(jax.vmap(lambda x, fn=fn: fn(params, x))(pts).ravel())
            if with_jacobian:
                jac = jax.vmap(jax.jacrev(lambda th, x, fn=fn: fn(unravel(th), x)), in_axes=(None, 0))(
                    flat, pts
                )
                js.append(jac.reshape(-1, flat.size))
        r = jnp.concatenate(rs)
        return (r, jnp.concatenate(js)) if with_jacobian else r

    return residuals


class WeightedLoss:
    r"""The step's weighted loss $\theta\mapsto\mathcal{L}(\theta)$ on its points (callable,
    the ``value_fn`` that `optax.lbfgs` expects), with its sum-of-squares form
    ``residuals(params, with_jacobian=False)`` (`weighted_residuals_fn`) for Gauss–Newton."""

    def __init__(self, loss: Callable, residuals: Callable):
        self.loss, self.residuals = loss, residuals

    def __call__(self, params):
        return self.loss(params)


def ntk_diagonal(problem: Problem, static, params, points: Mapping[str, jax.Array], term: str) -> jax.Array:
    r"""Per-point NTK diagonal $K_{ii} = \|\partial_\theta m(x_i)\|^2$ of one term.

    For ``"residual"`` $m = r$ at the residual points; for a group, the misfits of its
    conditions at their points, concatenated in declaration order (Wang, Yu & Perdikaris
    2022, "When and why PINNs fail to train", eq. 4.3). Vector outputs sum their rows.
    """

    def diag(fn, pts):
        def one(x):
            jac = jax.jacrev(lambda p: fn(eqx.combine(p, static), x))(params)
            return sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(jac))

        return jax.vmap(one)(pts)  # a point is one row of the term's own points, whatever its width

    if term == RESIDUAL:
        return diag(lambda net, x: problem.residual_function(net)(x), points[RESIDUAL])
    parts = []
    for c in problem.members(term):
        misfit = problem.conditions[c].misfit
        parts.append(
            diag(lambda net, x, m=misfit: jnp.atleast_1d(m(problem.point_function(net), x)), points[c])
        )
    return jnp.concatenate(parts)


def relative_l2(pred: jax.Array, ref: jax.Array) -> jax.Array:
    r"""$\|u_\theta - u\|_2 / \|u\|_2$ over all points and components."""
    return jnp.linalg.norm((pred - ref).ravel()) / jnp.linalg.norm(ref.ravel())
