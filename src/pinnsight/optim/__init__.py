"""Optimisers as optax transformations, one file each.

Any `optax.GradientTransformation` trains through `pinnsight.fit`, `optax.lbfgs` included
(the step passes ``value``, ``grad`` and ``value_fn``). A new optimiser is one file here
plus one line in `OPTIMIZERS` (the name the config tree reads).
"""

from collections.abc import Callable

import optax

from .gauss_newton import GaussNewtonState, gauss_newton
from .recipes import adam_lbfgs, soap_optimizer
from .schedules import paper_optimizer, paper_schedule
from .soap import ScaleBySoapState, scale_by_soap, soap
from .switch import SwitchState, switch_at

__all__ = [
    "paper_optimizer",
    "paper_schedule",
    "switch_at",
    "SwitchState",
    "soap",
    "scale_by_soap",
    "ScaleBySoapState",
    "soap_optimizer",
    "adam_lbfgs",
    "gauss_newton",
    "GaussNewtonState",
    "OPTIMIZERS",
    "POLISHERS",
]

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "adam": paper_optimizer,
    "soap": soap_optimizer,
    "adam_lbfgs": adam_lbfgs,
}
"""Optimiser factories by config name (keyword options of plain numbers)."""

POLISHERS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "lbfgs": optax.lbfgs,
    "gauss_newton": gauss_newton,
}
"""Second-stage optimisers (``optim.polish``): run from ``optim.polish_from`` on fixed points
with frozen weights, usually in float64."""
