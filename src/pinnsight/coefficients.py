r"""Trainable PDE coefficients: unknown parameters of the equation learned with the network.

An inverse problem (Raissi, Perdikaris & Karniadakis 2019, §4) declares its unknown
coefficients, e.g. $\nu$ in $u_t + \lambda_1 u u_x = \nu u_{xx}$, with an initial guess:

```python
problem = ps.Problem(..., coefficients={"nu": ps.Coefficient(0.05, positive=True)},
                     residual=lambda u, x, c: ... c["nu"] ...)
```

The coefficients live *inside the trained parameter pytree*: `fit` wraps the network
in a `WithCoefficients` module holding the network and one raw scalar per coefficient,
so the optimiser, the state, checkpoints (``model.eqx``) and resuming carry them with no
other change. A positive coefficient is $c = e^{\rho}$ of its raw value $\rho$ (so Adam's
steps are relative changes, and $c$ can span decades); any other is $c = \rho$.
``main_kernels`` is the inner network's: balancers and diagnostics see the same kernels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from .nets.base import AbstractNetwork

__all__ = ["Coefficient", "WithCoefficients", "attach_coefficients", "coefficient_values"]


@dataclass(frozen=True)
class Coefficient:
    """An unknown scalar of the PDE, trained with the network.

    Args:
        init: the initial guess.
        positive: keep it > 0 (trained as ``exp(raw)``); ``init`` must then be > 0.
        true: the true value when it is known (a synthetic benchmark): reports give the
            relative error of the learned value. Not used in training.
    """

    init: float
    positive: bool = False
    true: float | None = None

    def __post_init__(self) -> None:
        init = self.init
        if isinstance(init, bool) or not isinstance(init, int | float) or not math.isfinite(init):
            raise ValueError(f"a Coefficient's initial guess must be a finite number, got {init!r}.")
        if self.positive and not init > 0:
            raise ValueError(f"a positive Coefficient needs an initial guess > 0, got {init!r}.")
        object.__setattr__(self, "init", float(init))

    def raw(self) -> float:
        """The trained value that gives ``init``: ``log(init)`` if positive, else ``init``."""
        return math.log(self.init) if self.positive else self.init


class WithCoefficients(AbstractNetwork):
    """A network and the raw values of the problem's trainable coefficients (one pytree).

    ``net(x)`` and ``main_kernels()`` are the inner network's; `coefficients` gives the
    values ``{name: c}`` the residual receives.
    """

    net: eqx.Module
    raw: dict[str, jax.Array]
    positive: tuple[str, ...] = eqx.field(static=True)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.net(x)

    def main_kernels(self) -> list[jax.Array]:
        """The inner network's kernels (coefficients are not kernels)."""
        return self.net.main_kernels()

    def coefficients(self) -> dict[str, jax.Array]:
        """The coefficient values ``{name: scalar}`` (``exp(raw)`` for positive ones)."""
        return {k: jnp.exp(v) if k in self.positive else v for k, v in self.raw.items()}


def attach_coefficients(coefficients: Mapping[str, Coefficient], net) -> eqx.Module:
    """``net`` wrapped with raw coefficients at their initial guesses (float of the current
    precision); ``net`` itself when there are none or it already carries exactly these."""
    if not coefficients:
        return net
    if isinstance(net, WithCoefficients):
        if set(net.raw) != set(coefficients):
            raise ValueError(
                f"the network carries coefficients {sorted(net.raw)}, the problem declares "
                f"{sorted(coefficients)}."
            )
        return net
    dtype = jnp.result_type(float)
    raw = {k: jnp.asarray(c.raw(), dtype=dtype) for k, c in coefficients.items()}
    positive = tuple(sorted(k for k, c in coefficients.items() if c.positive))
    return WithCoefficients(net, raw, positive)


def coefficient_values(net) -> dict[str, float]:
    """The learned coefficients of a (trained) network as floats; ``{}`` if it has none."""
    if not isinstance(net, WithCoefficients):
        return {}
    return {k: float(v) for k, v in net.coefficients().items()}
