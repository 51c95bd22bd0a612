"""Optimisers as optax transformations, one file each.

Any `optax.GradientTransformation` trains through `pinnsight.fit`, `optax.lbfgs` included
(the step passes ``value``, ``grad`` and ``value_fn``). A new optimiser is one file here
plus one line in `OPTIMIZERS` (the name the config tree reads).
"""

from collections.abc import Callable

import optax

from .schedules import paper_optimizer, paper_schedule
from .switch import SwitchState, switch_at

__all__ = ["paper_optimizer", "paper_schedule", "switch_at", "SwitchState", "OPTIMIZERS"]

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {"adam": paper_optimizer}
"""Optimiser factories by config name."""
