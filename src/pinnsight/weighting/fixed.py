r"""Constant loss weights: the paper's models M1 and M3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import BalanceInputs, Balancer

__all__ = ["fixed", "FixedState"]


class FixedState(NamedTuple):
    weights: dict[str, jax.Array]


def fixed(weights: dict[str, float] | None = None) -> Balancer:
    r"""Constant weights $\lambda_i$ (1 for every term not named; ``"residual"`` may be named).

    Args:
        weights: ``{term: lambda}``; each must be >= 0.
    """
    weights = dict(weights or {})
    for g, w in weights.items():
        if not w >= 0:
            raise ValueError(f"weight of term {g!r} must be >= 0, got {w}.")

    def init(terms: Sequence[str]) -> FixedState:
        unknown = set(weights) - set(terms)
        if unknown:
            raise ValueError(
                f"fixed weights name unknown terms {sorted(unknown)}; "
                f"this problem's terms are: {', '.join(terms)}."
            )
        return FixedState({g: jnp.asarray(weights.get(g, 1.0)) for g in terms})

    def update(inputs: BalanceInputs, state: FixedState) -> FixedState:
        del inputs
        return state

    return Balancer(init, update)
