r"""SoftAdapt: weights from the loss terms' rates of change (Heydari, Thompson & Mehmood 2019).

A. A. Heydari, C. A. Thompson, A. Mehmood, "SoftAdapt: Techniques for Adaptive Loss
Weighting of Neural Networks with Multi-Part Loss Functions", arXiv:1912.12355 (2019), §3.

At every step $t$ after the first, with $m$ terms, the rate of change of each term's loss
is the backward difference

$$ s_i = \mathcal{L}_i(t) - \mathcal{L}_i(t-1)
   \qquad\Big(\text{``normalized=True``: } s_i = \frac{\mathcal{L}_i(t) - \mathcal{L}_i(t-1)}
   {\mathcal{L}_i(t-1)}\Big), $$

and the weights are a softmax of $\beta s$, scaled by $m$ so that equal rates give 1:

$$ \lambda_i = m\,\frac{e^{\beta s_i}}{\sum_j e^{\beta s_j}}
   \qquad\Big(\text{``loss_weighted=True``: }
   \lambda_i = m\,\frac{\mathcal{L}_i(t)\,e^{\beta s_i}}{\sum_j \mathcal{L}_j(t)\,e^{\beta s_j}}\Big). $$

$\beta > 0$ favours the terms that decrease slowest (or grow). At the first step the weights
are 1 and the losses are recorded (and the loss-weighted weights are 1 where every loss is
0). Both softmaxes are computed shifted by $\max_j\beta s_j$.
Every term is weighted, the residual included (``weights_residual=True``).

Differences from the paper and its reference code (``softadapt`` package): the slope is
the first-order difference of consecutive steps (the package fits a finite difference of
up to fifth order over a window of past values), the loss-weighted variant weighs by the
current loss (the package: the mean over the window), the weights sum to $m$ instead of 1
(the paper's convex weights times $m$), and ``normalized=True`` uses *relative* rates
$s_i/\mathcal{L}_i(t-1)$ (as NVIDIA Modulus's ``SoftAdapt`` aggregator does), not the
paper's slopes normalised across terms ($s_i/\sum_j|s_j|$, §3.1.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import BalanceInputs, Balancer

__all__ = ["softadapt", "SoftAdaptState"]

EPS = 1e-12
"""Added to $\\mathcal{L}_i(t-1)$ in the relative rates."""


class SoftAdaptState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per term (the residual's included)."""
    previous_losses: dict[str, jax.Array]
    """$\\mathcal{L}_i(t-1)$, the losses at the last update."""
    started: jax.Array
    """Whether the first update has happened (``previous_losses`` is then meaningful)."""


def softadapt(*, beta: float = 0.1, normalized: bool = False, loss_weighted: bool = False) -> Balancer:
    r"""SoftAdapt (Heydari, Thompson & Mehmood 2019): $\lambda = m\,\mathrm{softmax}(\beta s)$.

    $s_i$ is the change of term $i$'s loss since the last step; see the module docs.

    Args:
        beta: softmax scale; > 0 favours the slowest-decreasing terms, < 0 the fastest (package: 0.1).
        normalized: use relative rates (L_i(t) - L_i(t-1)) / L_i(t-1).
        loss_weighted: multiply each exponential by the term's current loss.
    """
    if isinstance(beta, bool) or not math.isfinite(beta):
        raise ValueError(f"`beta` must be a finite number, got beta = {beta}.")
    for name, flag in (("normalized", normalized), ("loss_weighted", loss_weighted)):
        if not isinstance(flag, bool):
            raise ValueError(f"`{name}` must be true or false, got {name} = {flag!r}.")

    def init(terms: Sequence[str]) -> SoftAdaptState:
        dtype = jnp.result_type(float)
        ones = {g: jnp.asarray(1.0, dtype=dtype) for g in terms}
        return SoftAdaptState(ones, dict(ones), jnp.asarray(False))

    def weights_of(now: jax.Array, before: jax.Array) -> jax.Array:
        rates = now - before
        if normalized:
            rates = rates / (before + EPS)
        z = beta * rates
        e = jnp.exp(z - jnp.max(z))
        if loss_weighted:
            e = now * e
            total = jnp.sum(e)
            return jnp.where(total > 0, now.shape[0] * e / jnp.where(total > 0, total, 1.0), 1.0)
        return now.shape[0] * e / jnp.sum(e)

    def update(inputs: BalanceInputs, state: SoftAdaptState) -> SoftAdaptState:
        terms = list(state.weights)
        dtype = state.weights[terms[0]].dtype
        losses = {g: jnp.asarray(inputs.losses[g], dtype=dtype) for g in terms}

        def first(s: SoftAdaptState) -> SoftAdaptState:
            return SoftAdaptState(s.weights, losses, jnp.asarray(True))

        def later(s: SoftAdaptState) -> SoftAdaptState:
            now = jnp.stack([losses[g] for g in terms])
            new = weights_of(now, jnp.stack([s.previous_losses[g] for g in terms]))
            return SoftAdaptState({g: new[i] for i, g in enumerate(terms)}, losses, s.started)

        return jax.lax.cond(state.started, later, first, state)

    return Balancer(init, update, weights_residual=True)
