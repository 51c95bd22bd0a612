r"""The paper's optimiser: Adam with a smooth exponential learning-rate decay (PAPER §5)."""

from __future__ import annotations

import optax

__all__ = ["paper_schedule", "paper_optimizer"]


def paper_schedule(learning_rate: float = 1e-3, decay_rate: float = 0.9, decay_steps: int = 1000):
    r"""$\eta(t) = \eta_0\,\gamma^{t/T}$ (smooth, not staircase): the one place it is written."""
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0, got learning_rate = {learning_rate}.")
    if not 0 < decay_rate <= 1:
        raise ValueError(f"`decay_rate` must be in (0, 1], got decay_rate = {decay_rate}.")
    if int(decay_steps) != decay_steps or decay_steps < 1:
        raise ValueError(f"`decay_steps` must be a positive integer, got decay_steps = {decay_steps}.")
    return optax.exponential_decay(learning_rate, decay_steps, decay_rate)


def paper_optimizer(
    learning_rate: float = 1e-3, decay_rate: float = 0.9, decay_steps: int = 1000
) -> optax.GradientTransformation:
    r"""Adam with $\eta(t) = \eta_0\,\gamma^{t/T}$, PAPER §5.

    Args:
        learning_rate: initial learning rate $\eta_0$.
        decay_rate: factor $\gamma$ per ``decay_steps``.
        decay_steps: steps $T$ over which the rate falls by ``decay_rate``.
    """
    return optax.adam(paper_schedule(learning_rate, decay_rate, decay_steps))
