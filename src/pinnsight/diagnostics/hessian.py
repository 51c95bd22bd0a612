r"""Stiffness of the gradient flow: $\sigma_{\max}(\nabla^2_\theta\mathcal{L})$ by Lanczos (PAPER §2.2).

Hessian-vector products (`jax.jvp` of `jax.grad`), never a dense Hessian. Gradient
descent with step $\eta$ is stable only for $\eta < 2/\sigma_{\max}$.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ..losses import RESIDUAL, total_loss_fn
from ..problem import Problem

__all__ = [
    "hessian_vector_product",
    "lanczos_tridiagonal",
    "lanczos_eigenvalues",
    "lanczos_max_eigenvalue",
    "loss_max_eigenvalue",
]


def hessian_vector_product(loss: Callable[[jax.Array], jax.Array], x: jax.Array):
    r"""$v\mapsto\nabla^2 f(x)\,v$ by forward-over-reverse (`jvp` of `grad`)."""
    g = jax.grad(loss)
    return lambda v: jax.jvp(g, (x,), (v,))[1]


def lanczos_tridiagonal(
    matvec: Callable[[jax.Array], jax.Array],
    dim: int,
    *,
    num_iters: int = 20,
    key: jax.Array | None = None,
    dtype=None,
) -> tuple[jax.Array, jax.Array]:
    r"""``num_iters`` Lanczos steps on a symmetric operator: the tridiagonal $T_k$ and the basis.

    Builds the Krylov basis $v_1..v_k$ (rows of ``basis``, with full re-orthogonalisation,
    twice) and $T_k = V^\top A V$. After a breakdown (an invariant subspace found, e.g. a
    rank-deficient $A$, or a residual below $100\,\epsilon\,\|T\|$: rounding noise in the
    working precision $\epsilon$) the remaining rows are zero and $T_k$ has zero rows there.
    ``num_iters`` is capped at ``dim``. jit-safe.

    Returns:
        ``(tri, basis)``: $T_k$ of shape ``(k, k)`` and $V$ of shape ``(k, dim)``.
    """
    k = int(min(num_iters, dim))
    if k < 1:
        raise ValueError(f"`num_iters` must be >= 1, got {num_iters}.")
    dtype = dtype or jnp.result_type(float)
    key = jax.random.PRNGKey(0) if key is None else key
    v0 = jax.random.normal(key, (dim,), dtype)
    v0 = v0 / jnp.linalg.norm(v0)

    eps = float(jnp.finfo(dtype).eps)

    def body(j, carry):
        basis, alphas, betas, v, v_prev, beta_prev, scale = carry
        basis = basis.at[j].set(v)
        w = matvec(v)
        alpha = jnp.dot(w, v)
        w = w - alpha * v - beta_prev * v_prev
        for _ in range(2):  # full re-orthogonalisation, twice for stability
            w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(alpha) + beta_prev)
        # Breakdown: what is left of w is rounding noise (~eps·|A|), not a new direction;
        # normalising it would break the orthogonality of the basis (spurious Ritz values).
        safe = beta > jnp.maximum(100 * eps * scale, 1e-12 * (jnp.abs(alpha) + 1.0))
        v_next = jnp.where(safe, w / jnp.where(safe, beta, 1.0), 0.0)
        beta = jnp.where(safe, beta, 0.0)
        return basis, alphas.at[j].set(alpha), betas.at[j].set(beta), v_next, v, beta, scale

    init = (
        jnp.zeros((k, dim), dtype),
        jnp.zeros((k,), dtype),
        jnp.zeros((k,), dtype),
        v0,
        jnp.zeros((dim,), dtype),
        jnp.zeros((), dtype),
        jnp.zeros((), dtype),
    )
    basis, alphas, betas, *_ = jax.lax.fori_loop(0, k, body, init)
    tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    return tri, basis


def lanczos_eigenvalues(
    matvec: Callable[[jax.Array], jax.Array],
    dim: int,
    *,
    num_iters: int = 20,
    key: jax.Array | None = None,
    dtype=None,
) -> jax.Array:
    r"""The ``min(num_iters, dim)`` Ritz values of a symmetric operator, largest first.

    The eigenvalues of $T_k$ (`lanczos_tridiagonal`). The largest ones converge first (the
    top few within a few dozen products, from below); with ``num_iters >= dim`` they are the
    whole spectrum up to rounding. After a breakdown the surplus Ritz values are zeros.
    jit-safe.
    """
    tri, _ = lanczos_tridiagonal(matvec, dim, num_iters=num_iters, key=key, dtype=dtype)
    return jnp.linalg.eigvalsh(tri)[::-1]


def lanczos_max_eigenvalue(
    matvec: Callable[[jax.Array], jax.Array],
    dim: int,
    *,
    num_iters: int = 20,
    key: jax.Array | None = None,
    dtype=None,
) -> jax.Array:
    r"""Largest eigenvalue of a symmetric operator from ``num_iters`` Lanczos steps.

    Builds the Krylov basis $v_1..v_k$ (with full re-orthogonalisation) and the
    tridiagonal $T_k = V^\top A V$ (`lanczos_tridiagonal`); returns $\max \mathrm{eig}(T_k)$,
    which converges to $\lambda_{\max}(A)$ from below, usually within a few dozen products.
    ``num_iters`` is capped at ``dim``. jit-safe.

    Args:
        matvec: $v\mapsto Av$ on vectors of shape ``(dim,)``.
        dim: the dimension $n$.
        num_iters: Krylov dimension $k$.
        key: PRNG key of the start vector (default ``PRNGKey(0)``).
    """
    tri, _ = lanczos_tridiagonal(matvec, dim, num_iters=num_iters, key=key, dtype=dtype)
    return jnp.max(jnp.linalg.eigvalsh(tri))


def loss_max_eigenvalue(
    problem: Problem,
    net: eqx.Module,
    points: dict[str, jax.Array],
    weights: dict[str, Any] | None = None,
    *,
    residual: bool = True,
    num_iters: int = 20,
    key: jax.Array | None = None,
) -> jax.Array:
    r"""$\sigma_{\max}$ of the Hessian of $\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ with
    respect to all trainable parameters, on fixed ``points`` (Lanczos on HVPs).

    ``weights`` default to 1; set a group's weight to 0 (and ``residual=False``) to get
    the stiffness of single terms."""
    params, static = eqx.partition(net, eqx.is_inexact_array)
    weights = dict(weights or {g: 1.0 for g in problem.groups})
    weights[RESIDUAL] = weights.get(RESIDUAL, 1.0) if residual else 0
    flat, unravel = ravel_pytree(params)
    loss = total_loss_fn(problem, static, weights, points)
    hvp = hessian_vector_product(lambda f: loss(unravel(f)), flat)
    return lanczos_max_eigenvalue(hvp, flat.size, num_iters=num_iters, key=key, dtype=flat.dtype)
