r"""ReLoBRaLo: relative loss balancing with random lookback (Bischof & Kraus 2021).

R. Bischof, M. Kraus, "Multi-Objective Loss Balancing for Physics-Informed Deep Learning",
arXiv:2110.09813 (2021). With $m$ terms, temperature $T$ and the loss
$\mathcal{L}_i(t)$ of term $i$ at step $t$, the balance of step $t$ relative to step $t'$ is

$$ \lambda^{\mathrm{bal}}_i(t, t') = m\,
   \frac{\exp\!\big(\mathcal{L}_i(t) / (T\,\mathcal{L}_i(t'))\big)}
        {\sum_{j=1}^m \exp\!\big(\mathcal{L}_j(t) / (T\,\mathcal{L}_j(t'))\big)}, $$

a softmax times $m$ (so equal progress gives every weight 1; computed as a numerically
stable softmax, with $10^{-12}$ added to $T\mathcal{L}_i(t')$). The paper's update is

$$ \lambda_i(t) = \alpha\big(\rho\,\lambda_i(t-1) + (1-\rho)\,\lambda^{\mathrm{bal}}_i(t, 0)\big)
   + (1-\alpha)\,\lambda^{\mathrm{bal}}_i(t, t-1), \qquad \rho\sim\mathrm{Bernoulli}(\mathbb{E}[\rho]). $$

**Deviation:** the random look-back $\rho$ is replaced by its expectation
$\bar\rho = \mathbb{E}[\rho]$ (``expected_rho``), so the balancer needs no PRNG key and is
deterministic; it is the update averaged over $\rho$ (the weights are linear in $\rho$):

$$ \lambda_i(t) = \alpha\big(\bar\rho\,\lambda_i(t-1) + (1-\bar\rho)\,\lambda^{\mathrm{bal}}_i(t, 0)\big)
   + (1-\alpha)\,\lambda^{\mathrm{bal}}_i(t, t-1). $$

At the first update the initial losses $\mathcal{L}_i(0)$ are recorded and the weights stay
at 1 (as the paper's code does, all balances are 1 there). The update runs every step;
every term is weighted, the residual included (``weights_residual=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import BalanceInputs, Balancer

__all__ = ["relobralo", "ReLoBRaLoState"]

EPS = 1e-12
"""Added to $T\\mathcal{L}_i(t')$ in the softmax's arguments (as in the paper's code)."""


class ReLoBRaLoState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per term (the residual's included)."""
    initial_losses: dict[str, jax.Array]
    """$\\mathcal{L}_i(0)$, the losses at the first update."""
    previous_losses: dict[str, jax.Array]
    """$\\mathcal{L}_i(t-1)$, the losses at the last update."""
    started: jax.Array
    """Whether the first update has happened (the losses above are then meaningful)."""


def relobralo(*, alpha: float = 0.999, temperature: float = 0.1, expected_rho: float = 0.999) -> Balancer:
    r"""ReLoBRaLo (Bischof & Kraus 2021) with the random look-back replaced by its expectation.

    $\lambda_i \leftarrow \alpha(\bar\rho\lambda_i + (1-\bar\rho)\lambda^{\rm bal}_i(t,0))
    + (1-\alpha)\lambda^{\rm bal}_i(t,t-1)$, with $\lambda^{\rm bal}$ a softmax (times the
    number of terms) of the loss ratios divided by the temperature; see the module docs.

    Args:
        alpha: weight of the history in [0, 1] (default 0.999).
        temperature: softmax temperature T > 0 (default 0.1).
        expected_rho: expected look-back probability E[rho] in [0, 1] (default 0.999).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1], got alpha = {alpha}.")
    if not 0.0 < temperature < float("inf"):
        raise ValueError(f"`temperature` must be a finite number > 0, got temperature = {temperature}.")
    if not 0.0 <= expected_rho <= 1.0:
        raise ValueError(f"`expected_rho` must be in [0, 1], got expected_rho = {expected_rho}.")

    def init(terms: Sequence[str]) -> ReLoBRaLoState:
        dtype = jnp.result_type(float)
        ones = {g: jnp.asarray(1.0, dtype=dtype) for g in terms}
        return ReLoBRaLoState(ones, dict(ones), dict(ones), jnp.asarray(False))

    def balance(now: jax.Array, before: jax.Array) -> jax.Array:
        """$\\lambda^{\\rm bal}(t, t')$ for stacked losses ``now`` = L(t), ``before`` = L(t')."""
        return now.shape[0] * jax.nn.softmax(now / (temperature * before + EPS))

    def update(inputs: BalanceInputs, state: ReLoBRaLoState) -> ReLoBRaLoState:
        terms = list(state.weights)
        dtype = state.weights[terms[0]].dtype
        losses = {g: jnp.asarray(inputs.losses[g], dtype=dtype) for g in terms}

        def first(s: ReLoBRaLoState) -> ReLoBRaLoState:
            return ReLoBRaLoState(s.weights, losses, losses, jnp.asarray(True))

        def later(s: ReLoBRaLoState) -> ReLoBRaLoState:
            now = jnp.stack([losses[g] for g in terms])
            lam = jnp.stack([s.weights[g] for g in terms])
            bal_init = balance(now, jnp.stack([s.initial_losses[g] for g in terms]))
            bal_prev = balance(now, jnp.stack([s.previous_losses[g] for g in terms]))
            new = alpha * (expected_rho * lam + (1.0 - expected_rho) * bal_init) + (1.0 - alpha) * bal_prev
            weights = {g: new[i] for i, g in enumerate(terms)}
            return ReLoBRaLoState(weights, s.initial_losses, losses, s.started)

        return jax.lax.cond(state.started, later, first, state)

    return Balancer(init, update, weights_residual=True)
