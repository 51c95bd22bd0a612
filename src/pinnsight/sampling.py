r"""Where the residual's collocation points come from: uniform, or residual-based adaptive.

A sampler is a pair of pure functions in the optax manner, plus the state they share:

- ``refresh(residual_norm, key, state) -> state`` runs between compiled chunks (every
  ``chunk_size`` steps); ``residual_norm`` maps points ``(P, d)`` to $\|r(x)\|$ ``(P,)``
  for the current network;
- ``draw(state, key, n) -> points`` runs inside the compiled step and returns the
  step's ``n`` residual points.

`uniform` is the paper's set-up (PAPER §5: fresh uniform points every step; its state is
empty and ``refresh`` does nothing). `rad` is residual-based adaptive distribution
(RAD; Wu, Zhu, Tan, Kartha & Lu, CMAME 403, 2023): every refresh draws a pool of $P$
uniform points $x_j$ and evaluates the residual there; each step then draws its $n$
points from the pool with probabilities

$$ p_j \propto \frac{\|r(x_j)\|^k}{\frac1P\sum_i \|r(x_i)\|^k} + c , $$

so regions where the equation is badly satisfied (a shock, a boundary layer) are
sampled more, while $c$ keeps a uniform floor. $k = 1$, $c = 1$ are the defaults of Wu
et al. Conditions (boundary and initial data) are always sampled uniformly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .geometry import Box

__all__ = ["Sampler", "PoolState", "uniform", "rad", "SAMPLERS"]


class PoolState(NamedTuple):
    """The candidate pool of `rad`: points ``(P, d)`` and the cumulative probabilities ``(P,)``."""

    points: jax.Array
    cdf: jax.Array


class Sampler(NamedTuple):
    """A residual-point sampler: ``init``, ``refresh`` (between chunks), ``draw`` (in the step)."""

    init: Callable[[], Any]
    refresh: Callable[[Callable[[jax.Array], jax.Array], jax.Array, Any], Any]
    draw: Callable[[Any, jax.Array, int], jax.Array]


def uniform(domain: Box) -> Sampler:
    """Fresh uniform points from ``domain`` every step (PAPER §5). Stateless."""

    def init() -> tuple:
        return ()

    def refresh(residual_norm, key, state):
        return state

    def draw(state, key, n):
        return domain.sample(key, n)

    return Sampler(init, refresh, draw)


def rad(domain: Box, pool: int = 8192, k: float = 1.0, c: float = 1.0) -> Sampler:
    r"""Residual-based adaptive distribution over a pool of ``pool`` uniform candidates.

    Args:
        domain: the box the candidates are drawn from.
        pool: candidates $P$ per refresh (the residual is evaluated at each once per chunk).
        k: exponent on $\|r\|$; larger concentrates the points more.
        c: uniform floor (> 0), relative to the mean of $\|r\|^k$; it keeps every region
            sampled.

    Until the first refresh every pool point is equally likely.
    """
    if pool < 1:
        raise ValueError(f"`pool` must be >= 1, got {pool}.")
    if not k >= 0 or not c > 0:
        raise ValueError(f"need k >= 0 and c > 0, got k = {k}, c = {c}.")

    def init() -> PoolState:
        pts = domain.sample(jax.random.PRNGKey(0), pool)
        return PoolState(pts, jnp.arange(1, pool + 1, dtype=pts.dtype) / pool)

    def refresh(residual_norm, key, state: PoolState) -> PoolState:
        pts = domain.sample(key, pool)
        rk = residual_norm(pts) ** k
        density = rk / jnp.maximum(jnp.mean(rk), jnp.finfo(rk.dtype).tiny) + c
        cdf = jnp.cumsum(density)
        return PoolState(pts, cdf / cdf[-1])

    def draw(state: PoolState, key, n):
        # inverse-CDF draw, O(n log P): the Gumbel trick of `jax.random.categorical`
        # would draw n x P numbers every step
        u = jax.random.uniform(key, (n,), dtype=state.cdf.dtype)
        idx = jnp.minimum(jnp.searchsorted(state.cdf, u, side="right"), state.cdf.shape[0] - 1)
        return state.points[idx]

    return Sampler(init, refresh, draw)


SAMPLERS: dict[str, Callable[..., Sampler]] = {"uniform": uniform, "rad": rad}
"""Residual samplers by config name: ``factory(domain, **options)``."""
