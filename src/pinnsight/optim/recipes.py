r"""Optimisers as the config tree names them: factories of plain numbers only.

- ``adam``: the paper's Adam with $\eta_0\gamma^{t/T}$ (`paper_optimizer`);
- ``soap``: SOAP (`pinnsight.optim.soap`) on the same schedule;
- ``adam_lbfgs``: the paper's Adam until ``switch_step``, then `optax.lbfgs` with its zoom
  line search (set ``sampling.fixed_from`` to the same step so L-BFGS sees fixed points).
"""

from __future__ import annotations

import optax

from .schedules import paper_optimizer, paper_schedule
from .soap import soap
from .switch import switch_at

__all__ = ["soap_optimizer", "adam_lbfgs"]


def soap_optimizer(
    learning_rate: float = 1e-3,
    decay_rate: float = 0.9,
    decay_steps: int = 1000,
    b1: float = 0.95,
    b2: float = 0.95,
    precondition_frequency: int = 10,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
) -> optax.GradientTransformation:
    r"""SOAP with the paper's schedule $\eta_0\gamma^{t/T}$.

    Args:
        learning_rate: initial learning rate $\eta_0$.
        decay_rate: factor $\gamma$ per ``decay_steps``.
        decay_steps: steps $T$ over which the rate falls by ``decay_rate``.
        b1: first-moment decay $\beta_1$.
        b2: second-moment (and Shampoo statistics) decay $\beta_2$.
        precondition_frequency: steps between eigenbasis refreshes.
        weight_decay: decoupled weight decay $\lambda$.
        warmup_steps: steps $W$ of linear warm-up from 0 before the decay (0: none).
    """
    schedule = paper_schedule(learning_rate, decay_rate, decay_steps, warmup_steps)
    return soap(
        schedule, b1=b1, b2=b2, weight_decay=weight_decay, precondition_frequency=precondition_frequency
    )


def adam_lbfgs(
    learning_rate: float = 1e-3,
    decay_rate: float = 0.9,
    decay_steps: int = 1000,
    switch_step: int = 30_000,
    memory_size: int = 20,
) -> optax.GradientTransformationExtraArgs:
    r"""The paper's Adam for ``switch_step`` steps, then L-BFGS (`optax.lbfgs`, zoom line search).

    Args:
        learning_rate: initial Adam learning rate $\eta_0$.
        decay_rate: factor $\gamma$ per ``decay_steps``.
        decay_steps: steps $T$ over which the rate falls by ``decay_rate``.
        switch_step: the first L-BFGS step.
        memory_size: L-BFGS history length.
    """
    if memory_size < 1:
        raise ValueError(f"`memory_size` must be >= 1, got memory_size = {memory_size}.")
    return switch_at(
        paper_optimizer(learning_rate, decay_rate, decay_steps),
        optax.lbfgs(memory_size=memory_size),
        switch_step,
    )
