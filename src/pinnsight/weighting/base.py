r"""The balancer seam: what a loss-weighting scheme sees and returns.

The loss of PAPER eq. 2 with a weight on *every* term (the residual included):

$$ \mathcal{L}(\theta) = \lambda_r\mathcal{L}_r(\theta) + \sum_g \lambda_g \mathcal{L}_g(\theta). $$

A balancer is a pair of pure functions, like an optax ``GradientTransformation``:

- ``init(terms) -> state``: ``terms`` is ``("residual", *groups)``; ``state.weights`` maps
  every term to its $\lambda$;
- ``update(inputs, state) -> state`` with a `BalanceInputs`: per-term loss values, full
  per-term gradients (pytrees), their kernel subset (for the paper's statistics), the step,
  and `ntk_diagonal(term)`, the per-point NTK diagonal $K_{ii}=\|\nabla_\theta m(x_i)\|^2$,
  computed only if a balancer asks for it.

Optionally, ``point_weights(state, points, squared_residuals) -> (N,)`` weighs the
residual's points inside $\mathcal{L}_r = \frac1N\sum_k w_k\|r(x_k)\|^2$ (evaluated under
`jax.lax.stop_gradient`): causal training uses it. The training step calls ``update``
every step inside ``jit``; a balancer decides itself, with `jax.lax.cond`, whether that
step changes its weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Balancer", "BalanceInputs", "gradient_statistics", "frozen_from", "RESIDUAL"]

RESIDUAL = "residual"
"""The name of the PDE-residual term among the weighted terms."""


class BalanceInputs(NamedTuple):
    """What a balancer sees at one step (all per weighted term: ``"residual"`` and each group)."""

    losses: dict[str, jax.Array]
    """Unweighted loss $\\mathcal{L}_i$ of each term (a group's is the sum over its conditions)."""
    grads: dict[str, Any]
    """Unweighted gradient $\\nabla_\\theta\\mathcal{L}_i$ of each term, a full parameter pytree."""
    kernels: dict[str, list[jax.Array]]
    """The same gradients restricted to the network's ``main_kernels()`` (PAPER eq. 40)."""
    step: jax.Array
    """The step count (0 at the first step)."""
    ntk_diagonal: Callable[[str], jax.Array]
    """``ntk_diagonal(term)`` -> per-point $K_{ii}$ of that term's points, shape ``(N,)``."""


class Balancer(NamedTuple):
    """``init``, ``update`` (and optionally ``point_weights``) of a weighting scheme.

    ``weights_residual``: whether ``state.weights["residual"]`` may differ from 1. The
    paper's schemes leave it at 1 (False), and the step then adds the residual's gradient
    without a product, exactly as the paper's models always did.
    """

    init: Callable[[Sequence[str]], Any]
    update: Callable[[BalanceInputs, Any], Any]
    point_weights: Callable[[Any, jax.Array, jax.Array], jax.Array] | None = None
    weights_residual: bool = False


def gradient_statistics(grads: Sequence[jax.Array]) -> tuple[jax.Array, jax.Array]:
    r"""$(\max_\theta|g|,\ \overline{|g|})$ over a list of per-layer kernel gradients.

    The mean is the *mean of the per-layer means* (layers weighted equally), as the
    official code of PAPER computes it. The one place this statistic is written: the
    annealing balancer and the diagnostics both call it.
    """
    gmax = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in grads]))
    gmean = jnp.mean(jnp.stack([jnp.mean(jnp.abs(g)) for g in grads]))
    return gmax, gmean


def every_n_steps(
    every: int, refresh: Callable[[BalanceInputs, Any], Any]
) -> Callable[[BalanceInputs, Any], Any]:
    """A balancer's ``update`` that applies ``refresh(inputs, state)`` at steps 0, ``every``,
    2·``every``, … and keeps the state at every other step: one `jax.lax.cond` inside the
    compiled step (the weights of PAPER Alg. 1 and of the grad-norm and NTK schemes are
    recomputed every ``every`` steps)."""

    def update(inputs: BalanceInputs, state: Any) -> Any:
        return jax.lax.cond(inputs.step % every == 0, lambda s: refresh(inputs, s), lambda s: s, state)

    return update


def frozen_from(balancer: Balancer, step: int) -> Balancer:
    r"""``balancer`` whose weights stop changing at ``step``: from then on ``update`` returns
    its state unchanged (point weights, e.g. causal ones, still follow that state).

    A second-order stage needs this: L-BFGS's line search and curvature pairs assume one
    fixed objective $\sum_i\lambda_i\mathcal{L}_i$, so the $\lambda_i$ must not move
    under it (set it with ``sampling.fixed_from`` and the optimiser's switch step).
    """
    if int(step) != step or step < 0:
        raise ValueError(f"`freeze_from` must be a step >= 0, got {step!r}.")

    def update(inputs: BalanceInputs, state: Any) -> Any:
        return jax.lax.cond(inputs.step >= step, lambda s: s, lambda s: balancer.update(inputs, s), state)

    return balancer._replace(update=update)
