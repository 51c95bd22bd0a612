"""Per-term losses and gradients on freshly sampled points, and the error metric."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .problem import Problem

DrawFn = Callable[[jax.Array, int], jax.Array]

__all__ = ["term_gradients", "relative_l2", "sample_points", "batch_sizes"]


def batch_sizes(problem: Problem, batch_size: int | dict[str, int]) -> dict[str, int]:
    """Points per sampler per step for ``"residual"`` and each condition (checked)."""
    names = ("residual", *problem.conditions)
    if isinstance(batch_size, int):
        sizes = dict.fromkeys(names, batch_size)
    else:
        unknown = set(batch_size) - set(names)
        if unknown:
            raise ValueError(f"batch sizes name unknown terms {sorted(unknown)}; terms: {', '.join(names)}.")
        sizes = {n: int(batch_size.get(n, 128)) for n in names}
    for n, v in sizes.items():
        if v < 1:
            raise ValueError(f"batch size of {n!r} must be >= 1, got {v}.")
    return sizes


def sample_points(
    problem: Problem, key: jax.Array, sizes: dict[str, int], draw_residual: DrawFn | None = None
) -> dict[str, jax.Array]:
    """Fresh points for ``"residual"`` and each condition.

    The residual points come from ``draw_residual(key, n)`` (default: uniform on the
    domain, PAPER §5); the conditions' points are always uniform on their sets.
    """
    conds = list(problem.conditions)
    keys = jax.random.split(key, len(conds) + 1)
    draw_residual = draw_residual or problem.domain.sample
    pts = {"residual": draw_residual(keys[0], sizes["residual"])}
    for k, c in zip(keys[1:], conds, strict=True):
        pts[c] = problem.conditions[c].sample(k, sizes[c])
    return pts


def term_gradients(
    problem: Problem, static, params, key, sizes: dict[str, int], draw_residual: DrawFn | None = None
):
    """Losses and gradients of the residual and each weight group on fresh points.

    Returns ``(losses, grads)``: ``losses`` per term (``"residual"`` and each
    condition), ``grads`` per ``"residual"`` and each group (unweighted).
    """
    conds = list(problem.conditions)
    pts = sample_points(problem, key, sizes, draw_residual)

    def res_loss(p):
        return problem.residual_loss(eqx.combine(p, static), pts["residual"])

    losses, grads = {}, {}
    losses["residual"], grads["residual"] = jax.value_and_grad(res_loss)(params)
    for g in problem.groups:
        members = [c for c in conds if problem.group_of(c) == g]

        def group_loss(p, members=members):
            net = eqx.combine(p, static)
            parts = {c: problem.condition_loss(c, net, pts[c]) for c in members}
            return sum(parts.values()), parts

        (_, parts), grads[g] = jax.value_and_grad(group_loss, has_aux=True)(params)
        losses.update(parts)
    return losses, grads


def relative_l2(pred: jax.Array, ref: jax.Array) -> jax.Array:
    r"""$\|u_\theta - u\|_2 / \|u\|_2$ over all points and components."""
    return jnp.linalg.norm((pred - ref).ravel()) / jnp.linalg.norm(ref.ravel())
