r"""NTK spectra per loss term (Wang, Yu & Perdikaris 2022, "When and why PINNs fail to train").

S. Wang, X. Yu, P. Perdikaris, *When and why PINNs fail to train: a neural tangent kernel
perspective*, J. Comput. Phys. 449 (2022), arXiv:2007.14527. For a term with misfit vector
$m(\theta)\in\mathbb{R}^n$ on its points (the residual $r(x_k)$, or the misfits of a
constraint group's conditions, concatenated in declaration order; vector outputs flattened
point by point), the term's NTK block is

$$ K = J J^\top,\qquad J = \partial m/\partial\theta \in \mathbb{R}^{n\times P} , $$

($K_{rr}$ for the residual, $K_{bb}$ for a boundary group; eq. 3.5 of the paper). Under
gradient flow on $\frac12\|m\|^2$ the component of $m$ along an eigenvector of $K$ with
eigenvalue $\lambda_i$ decays like $e^{-\lambda_i t}$: eigenvalues that fall fast mean
*spectral bias* (the directions of small $\lambda_i$ are learned late), and very different
traces $\mathrm{tr}\,K_{rr}$ vs $\mathrm{tr}\,K_{bb}$ mean the terms converge at very
different rates (the paper's cure: weights $\lambda_i\propto\mathrm{tr}K/\mathrm{tr}K_{ii}$,
`pinnsight.weighting.ntk_trace`).

Nothing here forms $J$ or $K$: $Kv = J(J^\top v)$ is one `jax.vjp` and one `jax.jvp`
(`ntk_operator`), its top eigenvalues come from Lanczos (`lanczos_eigenvalues`, the method
of the Hessian's $\sigma_{\max}$), and the trace $\sum_k\|\partial_\theta m_k\|^2$ is
summed point by point (one gradient of $P$ entries at a time). The eigenvalues are of $K$
itself (the paper's normalisation); ``trace / n``, the mean diagonal, compares terms with
different numbers of points (as the NTK balancer does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ..losses import RESIDUAL
from ..problem import Problem
from .hessian import lanczos_eigenvalues

__all__ = ["NTKSpectrum", "term_misfits", "ntk_operator", "ntk_block_trace", "ntk_spectrum"]


class NTKSpectrum(NamedTuple):
    r"""The NTK block $K = JJ^\top$ of one term, summarised."""

    eigenvalues: jax.Array
    r"""Top Ritz values of $K$, largest first (``min(num_iters, n)`` of them; the first few
    are converged, the tail is a lower-accuracy estimate unless ``num_iters >= n``)."""
    trace: jax.Array
    r"""$\mathrm{tr}\,K = \sum_k\|\partial_\theta m_k\|^2$ (exact)."""
    size: int
    """$n$: the length of the term's misfit vector (points times components)."""


def term_misfits(problem: Problem, static, points: Mapping[str, jax.Array], term: str):
    r"""``params -> m(params)``: the misfit vector of ``term`` (``"residual"`` or a group), flat.

    The residual at ``points["residual"]``, or each member condition's misfit at its points,
    concatenated in declaration order; shape ``(n,)``.
    """
    if term != RESIDUAL and term not in problem.groups:
        raise ValueError(f"unknown term {term!r}; terms: {', '.join((RESIDUAL, *problem.groups))}.")

    def fn(params):
        net = eqx.combine(params, static)
        if term == RESIDUAL:
            return problem.residuals(net, points[RESIDUAL]).ravel()
        u = problem.point_function(net)
        parts = []
        for c in problem.members(term):
            misfit = problem.conditions[c].misfit
            parts.append(jax.vmap(lambda x, m=misfit: jnp.atleast_1d(m(u, x)))(points[c]).ravel())
        return jnp.concatenate(parts)

    return fn


def ntk_operator(
    problem: Problem, static, params, points: Mapping[str, jax.Array], term: str
) -> tuple[Callable[[jax.Array], jax.Array], int]:
    r"""$v\mapsto Kv = J(J^\top v)$ for the term's NTK block, and $n$ (the dimension of $v$).

    One `jax.vjp` ($J^\top v$) and one `jax.jvp` ($Jw$) per product, through a flat view of
    the parameters; $J$ is never formed.
    """
    flat, unravel = ravel_pytree(params)
    f = term_misfits(problem, static, points, term)
    m0, vjp = jax.vjp(lambda p: f(unravel(p)), flat)

    def matvec(v):
        (w,) = vjp(v)
        return jax.jvp(lambda p: f(unravel(p)), (flat,), (w,))[1]

    return matvec, int(m0.shape[0])


def ntk_block_trace(
    problem: Problem, static, params, points: Mapping[str, jax.Array], term: str
) -> jax.Array:
    r"""$\mathrm{tr}\,K = \sum_k\|\partial_\theta m_k\|^2$ of a term, exactly, one point at a time.

    Each point's Jacobian has (components x $P$) entries; `jax.lax.map` runs over the points
    so only one of them exists at a time.
    """

    def per_point(fn, pts):
        def one(x):
            jac = jax.jacrev(lambda p: fn(eqx.combine(p, static), x))(params)
            return sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(jac))

        return jnp.sum(jax.lax.map(one, pts))

    if term == RESIDUAL:
        return per_point(lambda net, x: problem.residual_function(net)(x), points[RESIDUAL])
    if term not in problem.groups:
        raise ValueError(f"unknown term {term!r}; terms: {', '.join((RESIDUAL, *problem.groups))}.")
    total = 0.0
    for c in problem.members(term):
        misfit = problem.conditions[c].misfit
        total = total + per_point(
            lambda net, x, m=misfit: jnp.atleast_1d(m(problem.point_function(net), x)), points[c]
        )
    return total


def ntk_spectrum(
    problem: Problem,
    net: eqx.Module,
    points: Mapping[str, jax.Array],
    *,
    terms: Sequence[str] | None = None,
    num_iters: int = 40,
    key: jax.Array | None = None,
) -> dict[str, NTKSpectrum]:
    r"""Top eigenvalues and trace of the NTK block of each term at ``points``.

    Args:
        problem: the `Problem`.
        net: the network (its inexact arrays are the parameters $\theta$).
        points: ``{"residual": (N_r, d), condition: (N_c, d), ...}``, e.g. from
            `pinnsight.losses.sample_points`.
        terms: ``"residual"`` and/or group names (default: all terms).
        num_iters: Lanczos steps per term (capped at $n$): that many Ritz values; use
            ``num_iters >= n`` for the whole spectrum.
        key: PRNG key of the Lanczos start vectors (default ``PRNGKey(0)``).

    Returns:
        ``{term: NTKSpectrum}``. jit-safe (``terms`` and ``num_iters`` static).

    Example:
        ```python
        pts = ps.losses.sample_points(problem, jax.random.PRNGKey(0), {"residual": 128, ...})
        spec = ntk_spectrum(problem, net, pts)
        spec["residual"].eigenvalues[:5], spec["bc"].trace / spec["bc"].size
        ```
    """
    params, static = eqx.partition(net, eqx.is_inexact_array)
    terms = tuple(terms) if terms is not None else (RESIDUAL, *problem.groups)
    key = jax.random.PRNGKey(0) if key is None else key
    flat, _ = ravel_pytree(params)
    out = {}
    for i, term in enumerate(terms):
        matvec, n = ntk_operator(problem, static, params, points, term)
        eig = lanczos_eigenvalues(
            matvec, n, num_iters=num_iters, key=jax.random.fold_in(key, i), dtype=flat.dtype
        )
        out[term] = NTKSpectrum(eig, ntk_block_trace(problem, static, params, points, term), n)
    return out
