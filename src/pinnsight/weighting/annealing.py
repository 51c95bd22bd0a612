r"""Learning-rate annealing of the loss weights: Algorithm 1 of PAPER (models M2 and M4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import RESIDUAL, BalanceInputs, Balancer, gradient_statistics

__all__ = ["annealing", "AnnealingState"]

Grads = Sequence[jax.Array]


class AnnealingState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per term (the residual's stays 1)."""
    lambda_hat: dict[str, jax.Array]
    """The last instantaneous estimate $\\hat\\lambda_i$ (eq. 40), for logging."""


def annealing(
    *,
    variant: str = "official",
    alpha: float | None = None,
    every: int = 10,
    statistic: str = "global",
    init_value: float = 1.0,
) -> Balancer:
    r"""Learning-rate annealing, Algorithm 1 of Wang, Teng & Perdikaris (2021), M2/M4.

    At every ``every``-th step (step 0 included), for each constraint group $i$:

    $$ \hat\lambda_i = \frac{\max_\theta |\nabla_\theta \mathcal{L}_r|}
       {\overline{|\nabla_\theta D_i|}}, \qquad
       \lambda_i \leftarrow (1-\alpha)\,\lambda_i + \alpha\,\hat\lambda_i
       \qquad\text{(eqs. 40, 41)}$$

    with statistics over the main network's kernels only (no biases, no encoder) and
    $\overline{|\cdot|}$ the mean of the per-layer means. The two variants differ in $D_i$
    and $\alpha$:

    - ``"official"`` (default; produced the paper's numbers): $D_i = \lambda_i\mathcal{L}_i$,
      the *already weighted* loss, and $\alpha = 0.1$ ($\lambda\leftarrow0.9\lambda+0.1\hat\lambda$).
      Then $\hat\lambda_i = R_i/\lambda_i$ with $R_i = \max|\nabla\mathcal{L}_r| /
      \overline{|\nabla\mathcal{L}_i|}$, and $\lambda_i$ settles at $\sqrt{R_i}$.
    - ``"paper"`` (eq. 40 as printed): $D_i = \mathcal{L}_i$ and $\alpha = 0.9$ on the new
      value, so $\lambda_i$ settles at $R_i$ itself.

    ``statistic="layerwise"`` uses the official cavity code's estimate
    $\hat\lambda_i = \max_l \big(\max|\nabla_{W^l}\mathcal{L}_r| / \overline{|\nabla_{W^l} D_i|}\big)$.

    The estimate uses the gradients at $\theta_n$ of the current batch and the new
    $\lambda$ applies to the update of the same step (Algorithm 1). The official code
    evaluates the gradients one optimiser step later on the same batch.

    Args:
        variant: ``"official"`` or ``"paper"``.
        alpha: weight of the new estimate; defaults to 0.1 (official) or 0.9 (paper).
        every: update period in steps (official: 10).
        statistic: ``"global"`` or ``"layerwise"``.
        init_value: $\lambda_i$ at step 0 (official: 1).
    """
    if variant not in ("official", "paper"):
        raise ValueError(f"unknown annealing variant {variant!r}; choose one of: official, paper.")
    if statistic not in ("global", "layerwise"):
        raise ValueError(f"unknown annealing statistic {statistic!r}; choose one of: global, layerwise.")
    if alpha is None:
        alpha = 0.1 if variant == "official" else 0.9
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"`alpha` must be in (0, 1], got alpha = {alpha}.")
    if int(every) < 1:
        raise ValueError(f"`every` must be a positive number of steps, got every = {every}.")
    every = int(every)
    weighted = variant == "official"

    def init(terms: Sequence[str]) -> AnnealingState:
        dtype = jnp.result_type(float)
        w = {g: jnp.asarray(1.0 if g == RESIDUAL else init_value, dtype=dtype) for g in terms}
        return AnnealingState(w, dict(w))

    def estimate(residual_grads: Grads, grads: Grads, lam: jax.Array) -> jax.Array:
        scale = lam if weighted else 1.0
        if statistic == "global":
            rmax, _ = gradient_statistics(residual_grads)
            _, bmean = gradient_statistics([scale * g for g in grads])
            return rmax / bmean
        ratios = [
            jnp.max(jnp.abs(r)) / jnp.mean(jnp.abs(scale * g))
            for r, g in zip(residual_grads, grads, strict=True)
        ]
        return jnp.max(jnp.stack(ratios))

    def new_state(kernels: dict[str, Grads], state: AnnealingState) -> AnnealingState:
        groups = [g for g in state.weights if g != RESIDUAL]
        lam_hat = {
            g: estimate(kernels[RESIDUAL], kernels[g], state.weights[g]).astype(state.weights[g].dtype)
            for g in groups
        }
        weights = {g: (1.0 - alpha) * state.weights[g] + alpha * lam_hat[g] for g in groups}
        weights[RESIDUAL] = state.weights[RESIDUAL]
        lam_hat[RESIDUAL] = state.lambda_hat[RESIDUAL]
        return AnnealingState(weights, lam_hat)

    def update(inputs: BalanceInputs, state: AnnealingState) -> AnnealingState:
        return jax.lax.cond(
            inputs.step % every == 0,
            lambda s: new_state(inputs.kernels, s),
            lambda s: s,
            state,
        )

    return Balancer(init, update)
