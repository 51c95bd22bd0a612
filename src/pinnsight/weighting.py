r"""Loss balancers: the weights $\lambda_i$ of $\mathcal{L} = \mathcal{L}_r + \sum_i\lambda_i\mathcal{L}_i$.

A balancer is a pair of pure functions, like an optax ``GradientTransformation``:

- ``init(groups) -> state`` with ``state.weights = {group: lambda}``;
- ``update(residual_grads, group_grads, state, *, step) -> state``, where
  ``residual_grads`` is the list of per-layer kernel gradients of $\mathcal{L}_r$
  and ``group_grads[g]`` the same for the *unweighted* $\mathcal{L}_g$.

The training step calls ``update`` every step (inside ``jit``); a balancer decides
itself, with `jax.lax.cond`, whether that step changes the weights. A new scheme is a
new factory in this module registered in `BALANCERS`; the training loop never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "Balancer",
    "FixedState",
    "AnnealingState",
    "fixed",
    "annealing",
    "BALANCERS",
    "gradient_statistics",
]

Grads = Sequence[jax.Array]


class Balancer(NamedTuple):
    """``init`` and ``update`` of a loss-weighting scheme (see the module docstring)."""

    init: Callable[[Sequence[str]], Any]
    update: Callable[..., Any]


class FixedState(NamedTuple):
    weights: dict[str, jax.Array]


class AnnealingState(NamedTuple):
    weights: dict[str, jax.Array]
    """Current $\\lambda_i$ per group."""
    lambda_hat: dict[str, jax.Array]
    """The last instantaneous estimate $\\hat\\lambda_i$ (eq. 40), for logging."""


def fixed(weights: dict[str, float] | None = None) -> Balancer:
    r"""Constant weights $\lambda_i$ (1 for every group not named): models M1 and M3."""
    weights = dict(weights or {})
    for g, w in weights.items():
        if not w >= 0:
            raise ValueError(f"weight of group {g!r} must be >= 0, got {w}.")

    def init(groups: Sequence[str]) -> FixedState:
        unknown = set(weights) - set(groups)
        if unknown:
            raise ValueError(
                f"fixed weights name unknown groups {sorted(unknown)}; "
                f"this problem's groups are: {', '.join(groups)}."
            )
        return FixedState({g: jnp.asarray(weights.get(g, 1.0)) for g in groups})

    def update(residual_grads, group_grads, state, *, step):
        del residual_grads, group_grads, step
        return state

    return Balancer(init, update)


def gradient_statistics(grads: Grads) -> tuple[jax.Array, jax.Array]:
    r"""$(\max_\theta|g|,\ \overline{|g|})$ over a list of per-layer kernel gradients.

    The mean is the *mean of the per-layer means* (layers weighted equally), as the
    official code computes it.
    """
    gmax = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in grads]))
    gmean = jnp.mean(jnp.stack([jnp.mean(jnp.abs(g)) for g in grads]))
    return gmax, gmean


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

    def init(groups: Sequence[str]) -> AnnealingState:
        w = {g: jnp.asarray(init_value, dtype=jnp.result_type(float)) for g in groups}
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

    def new_state(residual_grads, group_grads, state: AnnealingState) -> AnnealingState:
        lam_hat = {
            g: estimate(residual_grads, group_grads[g], state.weights[g]).astype(state.weights[g].dtype)
            for g in state.weights
        }
        weights = {g: (1.0 - alpha) * state.weights[g] + alpha * lam_hat[g] for g in state.weights}
        return AnnealingState(weights, lam_hat)

    def update(residual_grads, group_grads, state: AnnealingState, *, step) -> AnnealingState:
        return jax.lax.cond(
            step % every == 0,
            lambda s: new_state(residual_grads, group_grads, s),
            lambda s: s,
            state,
        )

    return Balancer(init, update)


BALANCERS: dict[str, Callable[..., Balancer]] = {"fixed": fixed, "annealing": annealing}
"""Registry of balancer factories by name (read by the CLI and the config checks)."""
