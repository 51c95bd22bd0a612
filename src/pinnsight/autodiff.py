r"""Derivative operators on point functions.

Every operator takes a *point function* $u:\mathbb{R}^d\to\mathbb{R}$ (or
$\mathbb{R}^d\to\mathbb{R}^m$, applied output-wise) and returns another point
function, exactly like `jax.grad`. They compose: ``partial(partial(u, 0), 0)`` is
$\partial^2 u/\partial x_0^2$. Batching over points is done outside, with
`jax.vmap`, by the library.

First and second derivatives along coordinate axes use forward mode
(`jax.jvp`, and `jvp` of `jvp` for second derivatives). For the small input
dimensions of PINNs ($d\le 4$) forward-over-forward is the fastest way to form
Laplacians; `hessian` (reverse-over-forward, the full $d\times d$ matrix) is about
2.5x slower and is meant for analysis, not for residuals in the training loop.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

PointFunction = Callable[[jax.Array], jax.Array]

__all__ = [
    "grad",
    "partial",
    "laplacian",
    "hessian",
    "value_and_partials",
    "derivatives",
    "directional_taylor",
]


def _unit(x: jax.Array, i: int) -> jax.Array:
    if not 0 <= i < x.shape[-1]:
        raise ValueError(f"axis index {i} is out of range for a point of dimension {x.shape[-1]}.")
    return jnp.zeros_like(x).at[i].set(1.0)


def partial(u: PointFunction, i: int, order: int = 1) -> PointFunction:
    r"""$\partial^{k} u/\partial x_i^{k}$ by forward mode (`jvp`, nested `order` times).

    Args:
        u: point function of $x\in\mathbb{R}^d$.
        i: coordinate index, $0\le i<d$.
        order: derivative order $k\ge 1$.

    Returns:
        The point function $x\mapsto \partial^k u(x)/\partial x_i^k$, same output shape as $u$.

    Example:
        ```python
        u = lambda x: jnp.sin(x[0]) * x[1] ** 2
        x = jnp.array([0.0, 3.0])
        ps.partial(u, 0)(x)                 # cos(x0) x1^2 = 9.0
        ps.partial(u, 1, order=2)(x)        # 2 sin(x0) = 0.0
        ps.partial(ps.partial(u, 0), 1)(x)  # mixed: 2 cos(x0) x1 = 6.0
        ```
    """
    if order < 1:
        raise ValueError(f"`order` must be >= 1, got order = {order}.")

    def first(f: PointFunction) -> PointFunction:
        def df(x: jax.Array) -> jax.Array:
            return jax.jvp(f, (x,), (_unit(x, i),))[1]

        return df

    out = u
    for _ in range(order):
        out = first(out)
    return out


def grad(u: PointFunction) -> PointFunction:
    r"""$\nabla u(x)\in\mathbb{R}^d$ of a scalar point function, by forward mode (`jacfwd`).

    For a vector-valued $u$ the result is the Jacobian of shape ``(m, d)``.
    """
    return jax.jacfwd(u)


def laplacian(u: PointFunction, axes: tuple[int, ...] | None = None) -> PointFunction:
    r"""$\Delta u = \sum_{i\in\text{axes}} \partial^2 u/\partial x_i^2$ by forward-over-forward.

    Args:
        u: point function (scalar or vector output; vector outputs are treated
            component-wise).
        axes: the coordinates to sum over; all of them by default. Pass e.g.
            ``axes=(1,)`` for the spatial Laplacian of a function of $(t, x)$.

    Returns:
        The point function $x\mapsto\Delta u(x)$, same output shape as $u$.

    Example:
        ```python
        u = lambda x: x[0] ** 2 + 3 * x[1] ** 2
        ps.laplacian(u)(jnp.array([1.0, 2.0]))              # 2 + 6 = 8.0
        # heat equation u_t = u_xx for points (t, x): the Laplacian over x only
        residual = lambda u, x: ps.partial(u, 0)(x) - ps.laplacian(u, axes=(1,))(x)
        ```
    """

    def lap(x: jax.Array) -> jax.Array:
        idx = range(x.shape[-1]) if axes is None else axes
        return sum(partial(u, i, order=2)(x) for i in idx)

    return lap


def hessian(u: PointFunction) -> PointFunction:
    r"""The full Hessian $\nabla^2 u(x)$, shape ``(d, d)`` for a scalar $u$ (`jax.hessian`).

    Slower than `laplacian` or `partial` for the diagonal entries; use it for
    mixed derivatives or analysis.
    """
    return jax.hessian(u)


def value_and_partials(u: PointFunction, i: int) -> Callable[[jax.Array], tuple[jax.Array, ...]]:
    r"""$(u, \partial_i u, \partial_i^2 u)$ at once, sharing one forward-over-forward pass."""

    def f(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        e = _unit(x, i)

        def first(y):
            return jax.jvp(u, (y,), (e,))

        (val, d1), (_, d2) = jax.jvp(first, (x,), (e,))
        return val, d1, d2

    return f


def derivatives(u: PointFunction, order: int) -> Callable[[jax.Array], tuple[jax.Array, ...]]:
    r"""All derivatives of $u$ up to ``order`` at once: $(u, Du, D^2u, \dots, D^ku)$.

    $D^j u(x)$ has shape ``out_shape + (d,) * j`` (index ``[..., i1, ..., ij]`` is
    $\partial^j u/\partial x_{i1}\cdots\partial x_{ij}$). Nested `jax.jacfwd` with
    auxiliary outputs shares every lower-order pass, which is cheaper than calling
    `partial` for each mixed derivative when many are needed (e.g. Navier–Stokes in
    stream-function form needs all third derivatives of $\psi$).
    """
    if order < 0:
        raise ValueError(f"`order` must be >= 0, got order = {order}.")

    def level0(x):
        y = u(x)
        return y, (y,)

    fn = level0
    for _ in range(order):

        def nxt(x, f=fn):
            d, lower = jax.jacfwd(f, has_aux=True)(x)
            return d, (*lower, d)

        fn = nxt

    return lambda x: fn(x)[1]


def directional_taylor(u: PointFunction, order: int) -> Callable[[jax.Array, jax.Array], tuple]:
    r"""$(u(x), D_v u, D_v^2 u, \dots, D_v^k u)$ along a direction $v$ by Taylor mode.

    One `jax.experimental.jet` pass gives every derivative of $t\mapsto u(x+tv)$ at
    $t=0$ up to ``order``: for third derivatives this is cheaper than nested `jvp`.
    Mixed derivatives follow by polarisation, e.g. with $v=e_x\pm e_y$.
    """
    from jax.experimental import jet

    def f(x: jax.Array, v: jax.Array):
        zeros = [jnp.zeros_like(v)] * (order - 1)
        y, coeffs = jet.jet(u, (x,), ((v, *zeros),))
        return (y, *coeffs)

    return f
