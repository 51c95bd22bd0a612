r"""Gradient-norm weighting: Algorithm 1 of the "Expert's guide" (Wang, Wang & Perdikaris 2023).

S. Wang, H. Wang, P. Perdikaris, "An Expert's Guide to Training Physics-informed Neural
Networks", arXiv:2308.08468 (2023), Algorithm 1; the official code is the
``"grad_norm"`` scheme of ``PINN.compute_weights`` in ``jaxpi/models.py``
(PredictiveIntelligenceLab/jaxpi), which this module follows.

Every ``every`` steps (step 0 included), with $\hat g_i = \|\nabla_\theta\mathcal{L}_i\|_2$
the norm of the full gradient of term $i$ (all parameters, every term including the
residual) and $m$ the number of terms:

$$ \bar g = \frac1m\sum_{j=1}^m \hat g_j, \qquad
   \hat\lambda_i = \frac{\bar g}{\hat g_i + 10^{-5}\,\bar g}, \qquad
   \lambda_i \leftarrow \mu\,\lambda_i + (1-\mu)\,\hat\lambda_i , $$

starting from $\lambda_i = 1$, with momentum $\mu$ (official: 0.9). The paper writes
$\hat\lambda_i = \sum_j \hat g_j / \hat g_i$; the official code uses the *mean* over the
terms and the $10^{-5}\bar g$ guard, i.e. the paper's weights divided by $m$ (the same
balance, a total loss $m$ times smaller). Every term is weighted, the residual included
(``weights_residual=True``), so $\lambda_i\hat g_i \approx \bar g$: all terms pull with
the same gradient norm.

Here the weights are computed from the gradients at $\theta_n$ of the step's batch and
apply to that step's update; the official training loop updates them after the step's
optimiser update, on the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .base import Balancer, every_n_steps

__all__ = ["grad_norm", "GradNormState", "tree_norm"]

GUARD = 1e-5
"""The relative guard of the official code: $\\hat g_i + 10^{-5}\\bar g$ in the denominator."""


class GradNormState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per term (the residual's included)."""
    lambda_hat: dict[str, jax.Array]
    """The last instantaneous estimate $\\hat\\lambda_i$, for logging."""


def tree_norm(tree: Any) -> jax.Array:
    r"""$\|g\|_2$ over every array leaf of a pytree (the full gradient, all parameters)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves))


def balance_by_mean(values: dict[str, jax.Array]) -> dict[str, jax.Array]:
    r"""$\hat\lambda_i = \bar v / (v_i + 10^{-5}\bar v)$ with $\bar v$ the mean of ``values``.

    Where every value is 0 (no information) the estimate is 1.
    """
    mean = jnp.mean(jnp.stack(list(values.values())))
    return {k: jnp.where(mean > 0, mean / (v + GUARD * mean), 1.0) for k, v in values.items()}


def grad_norm(*, every: int = 1000, momentum: float = 0.9) -> Balancer:
    r"""Gradient-norm weighting of every term (Wang, Wang & Perdikaris 2023, Algorithm 1).

    Every ``every`` steps (step 0 included):
    $\hat\lambda_i = \overline{\|\nabla\mathcal{L}\|} / \|\nabla_\theta\mathcal{L}_i\|$ over
    all parameters, then $\lambda_i \leftarrow \mu\lambda_i + (1-\mu)\hat\lambda_i$.

    Args:
        every: update period in steps (official: 1000).
        momentum: weight $\mu$ of the old value in the moving average, in [0, 1) (official: 0.9).
    """
    if int(every) < 1 or int(every) != every:
        raise ValueError(f"`every` must be a positive number of steps, got every = {every}.")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"`momentum` must be in [0, 1), got momentum = {momentum}.")
    every = int(every)

    def init(terms: Sequence[str]) -> GradNormState:
        dtype = jnp.result_type(float)
        w = {g: jnp.asarray(1.0, dtype=dtype) for g in terms}
        return GradNormState(w, dict(w))

    def new_state(grads: dict[str, Any], state: GradNormState) -> GradNormState:
        norms = {g: tree_norm(grads[g]) for g in state.weights}
        lam_hat = {g: v.astype(state.weights[g].dtype) for g, v in balance_by_mean(norms).items()}
        weights = {g: momentum * state.weights[g] + (1.0 - momentum) * lam_hat[g] for g in state.weights}
        return GradNormState(weights, lam_hat)

    update = every_n_steps(every, lambda inputs, s: new_state(inputs.grads, s))
    return Balancer(init, update, weights_residual=True)
