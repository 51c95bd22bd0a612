r"""NTK-trace weighting (Wang, Yu & Perdikaris 2022, "When and why PINNs fail to train").

S. Wang, X. Yu, P. Perdikaris, "When and why PINNs fail to train: A neural tangent kernel
perspective", J. Comput. Phys. (2022), arXiv:2007.14527, Algorithm 1; the form used
here is the ``"ntk"`` scheme of ``PINN.compute_weights`` in ``jaxpi/models.py``
(PredictiveIntelligenceLab/jaxpi).

The paper balances the traces of the NTK blocks of each term,
$\lambda_i = \operatorname{tr}K / \operatorname{tr}K_{ii}$ with
$\operatorname{tr}K = \sum_j \operatorname{tr}K_{jj}$. As in jaxpi, the trace of a term is
estimated by the **mean** of its per-point NTK diagonal
$K_{kk} = \|\partial_\theta m(x_k)\|^2$ over the term's points of the step
(`BalanceInputs.ntk_diagonal`), so terms with different numbers of points compare fairly,
and the weights are normalised by the mean over the $m$ terms:

$$ \bar K_i = \frac1{N_i}\sum_{k=1}^{N_i} K^{(i)}_{kk},\qquad
   \hat\lambda_i = \frac{\frac1m\sum_j \bar K_j}{\bar K_i + 10^{-5}\,\frac1m\sum_j \bar K_j},
   \qquad \lambda_i \leftarrow \mu\,\lambda_i + (1-\mu)\,\hat\lambda_i , $$

every ``every`` steps (step 0 included), from $\lambda_i = 1$. The paper's sum over terms
gives the same weights times $m$. Every term is weighted, the residual included
(``weights_residual=True``).

The NTK diagonals (one Jacobian per point) are computed only inside the branch of
`jax.lax.cond` that updates, so their cost is paid once every ``every`` steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import Balancer, every_n_steps
from .grad_norm import balance_by_mean

__all__ = ["ntk_trace", "NTKState"]


class NTKState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per term (the residual's included)."""
    lambda_hat: dict[str, jax.Array]
    """The last instantaneous estimate $\\hat\\lambda_i$, for logging."""


def ntk_trace(*, every: int = 1000, momentum: float = 0.9) -> Balancer:
    r"""NTK-trace weighting of every term (Wang, Yu & Perdikaris 2022, Algorithm 1; jaxpi's ``"ntk"``).

    Every ``every`` steps (step 0 included): $\hat\lambda_i = \overline{\bar K} / \bar K_i$ with
    $\bar K_i$ the mean NTK diagonal over term $i$'s points, then
    $\lambda_i \leftarrow \mu\lambda_i + (1-\mu)\hat\lambda_i$.

    Args:
        every: update period in steps (jaxpi: 1000).
        momentum: weight $\mu$ of the old value in the moving average, in [0, 1) (jaxpi: 0.9).
    """
    if int(every) < 1 or int(every) != every:
        raise ValueError(f"`every` must be a positive number of steps, got every = {every}.")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"`momentum` must be in [0, 1), got momentum = {momentum}.")
    every = int(every)

    def init(terms: Sequence[str]) -> NTKState:
        dtype = jnp.result_type(float)
        w = {g: jnp.asarray(1.0, dtype=dtype) for g in terms}
        return NTKState(w, dict(w))

    def new_state(ntk_diagonal: Callable[[str], jax.Array], state: NTKState) -> NTKState:
        traces = {g: jnp.mean(ntk_diagonal(g)) for g in state.weights}
        lam_hat = {g: v.astype(state.weights[g].dtype) for g, v in balance_by_mean(traces).items()}
        weights = {g: momentum * state.weights[g] + (1.0 - momentum) * lam_hat[g] for g in state.weights}
        return NTKState(weights, lam_hat)

    update = every_n_steps(every, lambda inputs, s: new_state(inputs.ntk_diagonal, s))
    return Balancer(init, update, weights_residual=True)
