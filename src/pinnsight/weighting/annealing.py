r"""Learning-rate annealing of the loss weights: Algorithm 1 of PAPER (models M2 and M4)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import RESIDUAL, Balancer, every_n_steps, gradient_statistics

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
    alpha, every = _checked_options(variant, alpha, every, statistic)
    weighted = variant == "official"
    refresh = functools.partial(_annealed_state, alpha=alpha, weighted=weighted, statistic=statistic)

    update = every_n_steps(every, lambda inputs, s: refresh(inputs.kernels, s))
    return Balancer(functools.partial(_initial_state, init_value=init_value), update)


def _checked_options(variant: str, alpha: float | None, every: int, statistic: str) -> tuple[float, int]:
    r"""Validate `annealing`'s options; return ``(alpha, every)`` with the variant's default
    $\alpha$ (0.1 for ``"official"``, 0.9 for ``"paper"``) filled in and ``every`` as an int.

    Raises:
        ValueError: an unknown variant or statistic, $\alpha \notin (0, 1]$, or ``every < 1``.
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
    return alpha, int(every)


def _initial_state(terms: Sequence[str], *, init_value: float) -> AnnealingState:
    r"""$\lambda_i$ at step 0: 1 for the residual, ``init_value`` for every group (in the
    default float dtype at call time, so ``jax_enable_x64`` set later is honoured); the
    estimates $\hat\lambda_i$ start equal to them."""
    dtype = jnp.result_type(float)
    w = {g: jnp.asarray(1.0 if g == RESIDUAL else init_value, dtype=dtype) for g in terms}
    return AnnealingState(w, dict(w))


def _estimate(
    residual_grads: Grads, grads: Grads, lam: jax.Array, *, weighted: bool, statistic: str
) -> jax.Array:
    r"""The instantaneous estimate $\hat\lambda_i$ of one group (PAPER eq. 40).

    ``residual_grads``, ``grads``: per-layer kernel gradients of $\mathcal{L}_r$ and
    $\mathcal{L}_i$; with ``weighted`` (the official variant) the group's gradients are
    scaled by its current ``lam`` first ($D_i = \lambda_i\mathcal{L}_i$).

    - ``"global"``: $\max_\theta|\nabla\mathcal{L}_r| / \overline{|\nabla D_i|}$, the mean
      being the mean of per-layer means (`gradient_statistics`);
    - ``"layerwise"`` (official cavity code): $\max_l \big(\max|\nabla_{W^l}\mathcal{L}_r| /
      \overline{|\nabla_{W^l} D_i|}\big)$.
    """
    scale = lam if weighted else 1.0
    if statistic == "global":
        rmax, _ = gradient_statistics(residual_grads)
        _, bmean = gradient_statistics([scale * g for g in grads])
        return rmax / bmean
    ratios = [_layer_ratio(r, scale * g) for r, g in zip(residual_grads, grads, strict=True)]
    return jnp.max(jnp.stack(ratios))


def _layer_ratio(residual_grad: jax.Array, grad: jax.Array) -> jax.Array:
    r"""$\max|\nabla_{W^l}\mathcal{L}_r| / \overline{|\nabla_{W^l} D_i|}$ for one layer, or 0
    where the group's gradient on that layer is exactly zero.

    A layer the group does not reach carries no information on the balance, and its 0/0
    would make $\hat\lambda$ nan: a `PirateNet` at initialisation ($\alpha = 0$) has zero
    gradients on every block kernel. Ratios are positive, so a 0 never wins the maximum
    over the other layers; where all are zero (a group with no gradient at all) $\hat\lambda = 0$.
    """
    mean = jnp.mean(jnp.abs(grad))
    reached = mean > 0
    return jnp.where(reached, jnp.max(jnp.abs(residual_grad)) / jnp.where(reached, mean, 1.0), 0.0)


def _annealed_state(
    kernels: dict[str, Grads], state: AnnealingState, *, alpha: float, weighted: bool, statistic: str
) -> AnnealingState:
    r"""One annealing update (PAPER eq. 41): for every group $i$,
    $\lambda_i \leftarrow (1-\alpha)\,\lambda_i + \alpha\,\hat\lambda_i$ with $\hat\lambda_i$
    from `_estimate` (cast to $\lambda_i$'s dtype); the residual's $\lambda$ and
    $\hat\lambda$ are kept as they were."""
    groups = [g for g in state.weights if g != RESIDUAL]
    estimate = functools.partial(_estimate, weighted=weighted, statistic=statistic)
    lam_hat = {}
    for g in groups:
        lam = state.weights[g]
        lam_hat[g] = estimate(kernels[RESIDUAL], kernels[g], lam).astype(lam.dtype)
    weights = {g: (1.0 - alpha) * state.weights[g] + alpha * lam_hat[g] for g in groups}
    weights[RESIDUAL] = state.weights[RESIDUAL]
    lam_hat[RESIDUAL] = state.lambda_hat[RESIDUAL]
    return AnnealingState(weights, lam_hat)
