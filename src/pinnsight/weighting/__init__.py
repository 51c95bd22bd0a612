"""Loss balancers, one file each, over the seam of `base` (`Balancer`, `BalanceInputs`).

A new balancer is one file here plus one line in `BALANCERS` (the name the config tree,
the CLI and the validation read).
"""

from collections.abc import Callable

from .annealing import AnnealingState, annealing
from .base import RESIDUAL, BalanceInputs, Balancer, gradient_statistics
from .fixed import FixedState, fixed

__all__ = [
    "Balancer",
    "BalanceInputs",
    "RESIDUAL",
    "gradient_statistics",
    "fixed",
    "FixedState",
    "annealing",
    "AnnealingState",
    "BALANCERS",
]

BALANCERS: dict[str, Callable[..., Balancer]] = {"fixed": fixed, "annealing": annealing}
"""Balancer factories by config name."""
