r"""The paper's optimiser: Adam with a smooth exponential learning-rate decay (PAPER §5)."""

from __future__ import annotations

import optax

__all__ = ["paper_schedule", "paper_optimizer"]


def paper_schedule(
    learning_rate: float = 1e-3, decay_rate: float = 0.9, decay_steps: int = 1000, warmup_steps: int = 0
):
    r"""$\eta(t) = \eta_0\,\gamma^{t/T}$ (smooth, not staircase): the one place it is written.

    With ``warmup_steps`` $W > 0$ the rate first rises linearly from 0 to $\eta_0$ over $W$
    steps, then decays as $\eta_0\,\gamma^{(t-W)/T}$ (`optax.warmup_exponential_decay_schedule`,
    the warm-up of jaxpi's recipe, Wang et al. 2023, arXiv:2308.08468): a warm-started stage
    then moves its network little while the optimiser's fresh moment estimates fill (on the
    cavity's Re = 1000 stage it gained nothing, docs/RESULTS.md §10).
    $W = 0$ is the paper's schedule itself."""
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0, got learning_rate = {learning_rate}.")
    if not 0 < decay_rate <= 1:
        raise ValueError(f"`decay_rate` must be in (0, 1], got decay_rate = {decay_rate}.")
    if int(decay_steps) != decay_steps or decay_steps < 1:
        raise ValueError(f"`decay_steps` must be a positive integer, got decay_steps = {decay_steps}.")
    if int(warmup_steps) != warmup_steps or warmup_steps < 0:
        raise ValueError(f"`warmup_steps` must be an integer >= 0, got warmup_steps = {warmup_steps}.")
    if warmup_steps == 0:
        return optax.exponential_decay(learning_rate, decay_steps, decay_rate)
    return optax.warmup_exponential_decay_schedule(
        0.0, learning_rate, int(warmup_steps), decay_steps, decay_rate
    )


def paper_optimizer(
    learning_rate: float = 1e-3, decay_rate: float = 0.9, decay_steps: int = 1000, warmup_steps: int = 0
) -> optax.GradientTransformation:
    r"""Adam with $\eta(t) = \eta_0\,\gamma^{t/T}$, PAPER §5.

    Args:
        learning_rate: initial learning rate $\eta_0$.
        decay_rate: factor $\gamma$ per ``decay_steps``.
        decay_steps: steps $T$ over which the rate falls by ``decay_rate``.
        warmup_steps: steps $W$ of linear warm-up from 0 before the decay (0: none).
    """
    return optax.adam(paper_schedule(learning_rate, decay_rate, decay_steps, warmup_steps))
