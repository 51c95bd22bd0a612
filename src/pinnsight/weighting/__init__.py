"""Loss balancers, one file each, over the seam of `base` (`Balancer`, `BalanceInputs`).

A new balancer is one file here plus one line in `BALANCERS` (the name the config tree,
the CLI and the validation read).
"""

from collections.abc import Callable

from .annealing import AnnealingState, annealing
from .base import RESIDUAL, BalanceInputs, Balancer, frozen_from, gradient_statistics
from .causal import CausalState, causal
from .fixed import FixedState, fixed
from .grad_norm import GradNormState, grad_norm
from .ntk import NTKState, ntk_trace
from .relobralo import ReLoBRaLoState, relobralo
from .softadapt import SoftAdaptState, softadapt

__all__ = [
    "Balancer",
    "BalanceInputs",
    "RESIDUAL",
    "gradient_statistics",
    "frozen_from",
    "fixed",
    "FixedState",
    "annealing",
    "AnnealingState",
    "grad_norm",
    "GradNormState",
    "ntk_trace",
    "NTKState",
    "relobralo",
    "ReLoBRaLoState",
    "softadapt",
    "SoftAdaptState",
    "causal",
    "CausalState",
    "BALANCERS",
]

BALANCERS: dict[str, Callable[..., Balancer]] = {
    "fixed": fixed,
    "annealing": annealing,
    "grad_norm": grad_norm,
    "ntk": ntk_trace,
    "relobralo": relobralo,
    "softadapt": softadapt,
    "causal": causal,
}
"""Balancer factories by config name."""
