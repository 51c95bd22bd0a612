r"""Causal training: weigh the residual's points by how well earlier times are resolved.

S. Wang, S. Sankaran, P. Perdikaris, "Respecting causality for training physics-informed
neural networks", Comput. Methods Appl. Mech. Eng. (2024), arXiv:2203.07404;
official code: ``res_and_w`` of the examples of PredictiveIntelligenceLab/jaxpi.

The time range $[t_0, t_1]$ is cut into $K$ equal slices (``slices``). The residual's
points of a step fall into slices by their time coordinate $x_{\text{time\_axis}}$; slice
$k$ has the mean squared residual $\mathcal{L}_k$ of its points (0 for an empty slice) and
the weight

$$ w_k = \exp\Big(-\varepsilon \sum_{j<k} \mathcal{L}_j\Big), \qquad w_0 = 1, $$

so a slice is trained only once the slices before it have a small residual. Each point
gets its slice's weight, inside
$\mathcal{L}_r = \frac1N\sum_p w_{k(p)}\|r(x_p)\|^2$; the step evaluates the weights under
`jax.lax.stop_gradient`, on the current parameters. With equally filled slices this is the
paper's $\frac1K\sum_k w_k\mathcal{L}_k$. Points outside $[t_0, t_1]$ count in the first or
last slice. The paper trains until $\min_k w_k > 0.99$ ("causality reached") before
raising $\varepsilon$; `slice_weights` gives the $w_k$ for such a check.

Differences from the official code: jaxpi sorts the batch by time and cuts it into $K$
chunks of equal *count*; here the slices have equal *width* (uniform samples fill them
equally on average). The group weights stay 1 and the residual is not reweighted
(``weights_residual=False``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import BalanceInputs, Balancer

__all__ = ["causal", "CausalState", "slice_weights"]


class CausalState(NamedTuple):
    weights: dict[str, jax.Array]
    """$\\lambda_i$ per term: always 1 (the causal weights act on points, not terms)."""


def slice_weights(
    points: jax.Array,
    squared_residuals: jax.Array,
    *,
    epsilon: float = 1.0,
    slices: int = 16,
    time_axis: int = 0,
    t_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""``(w, losses, slice_of)``: the causal weights $w_k$ and losses $\mathcal{L}_k$ of the
    ``slices`` time slices, shape ``(K,)``, and each point's slice index, shape ``(N,)``.

    ``points`` has shape ``(N, d)``, ``squared_residuals`` shape ``(N,)`` ($\|r(x_p)\|^2$).
    """
    if points.ndim != 2 or points.shape[-1] <= time_axis:
        raise ValueError(
            f"`time_axis` = {time_axis} is not a coordinate of the residual's points "
            f"(shape {points.shape}); it must be < the input dimension."
        )
    t0, t1 = t_range
    t = points[:, time_axis]
    slice_of = jnp.clip(jnp.floor((t - t0) / (t1 - t0) * slices), 0, slices - 1).astype(jnp.int32)
    sums = jax.ops.segment_sum(squared_residuals, slice_of, num_segments=slices)
    counts = jax.ops.segment_sum(jnp.ones_like(squared_residuals), slice_of, num_segments=slices)
    losses = jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), 0.0)
    before = jnp.concatenate([jnp.zeros((1,), losses.dtype), jnp.cumsum(losses)[:-1]])
    return jnp.exp(-epsilon * before), losses, slice_of


def causal(
    *,
    epsilon: float = 1.0,
    slices: int = 16,
    time_axis: int = 0,
    t_range: tuple[float, float] = (0.0, 1.0),
) -> Balancer:
    r"""Causal weights of the residual's points (Wang, Sankaran & Perdikaris 2024).

    Point $p$ in time slice $k$ gets $w_k = \exp(-\varepsilon\sum_{j<k}\mathcal{L}_j)$, with
    $\mathcal{L}_j$ the mean squared residual of slice $j$; all term weights stay 1.

    Args:
        epsilon: causality parameter, >= 0 (jaxpi's Allen-Cahn: 1; the paper raises it in stages).
        slices: number of equal time slices, >= 1 (jaxpi's Allen-Cahn: 32).
        time_axis: index of time among the inputs (0 for (t, x) problems).
        t_range: the time interval (t0, t1), t0 < t1, cut into slices.
    """
    if isinstance(epsilon, bool) or not (math.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"`epsilon` must be a finite number >= 0, got epsilon = {epsilon}.")
    if isinstance(slices, bool) or int(slices) != slices or slices < 1:
        raise ValueError(f"`slices` must be a positive integer, got slices = {slices}.")
    if isinstance(time_axis, bool) or int(time_axis) != time_axis or time_axis < 0:
        raise ValueError(f"`time_axis` must be an integer >= 0, got time_axis = {time_axis}.")
    if len(t_range) != 2 or not all(math.isfinite(v) for v in t_range) or not t_range[0] < t_range[1]:
        raise ValueError(
            f"`t_range` must be two finite numbers (t0, t1) with t0 < t1, got t_range = {t_range}."
        )
    slices, time_axis = int(slices), int(time_axis)
    t_range = (float(t_range[0]), float(t_range[1]))

    def init(terms: Sequence[str]) -> CausalState:
        dtype = jnp.result_type(float)
        return CausalState({g: jnp.asarray(1.0, dtype=dtype) for g in terms})

    def update(inputs: BalanceInputs, state: CausalState) -> CausalState:
        del inputs
        return state

    def point_weights(state: CausalState, points: jax.Array, squared_residuals: jax.Array) -> jax.Array:
        del state
        w, _, slice_of = slice_weights(
            points, squared_residuals, epsilon=epsilon, slices=slices, time_axis=time_axis, t_range=t_range
        )
        return w[slice_of]

    return Balancer(init, update, point_weights=point_weights, weights_residual=False)
