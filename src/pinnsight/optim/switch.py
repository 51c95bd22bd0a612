r"""Switch from one optimiser to another at a given step (e.g. Adam, then L-BFGS).

$$ \Delta\theta_t = \begin{cases} \mathrm{first}(g_t) & t < t_s \\ \mathrm{second}(g_t) & t \ge t_s
\end{cases} $$

Both states are kept from the start (the second's ``init`` sees the initial parameters);
the branch is chosen with `jax.lax.cond` on the step count, so the switch happens inside
the compiled chunk. Extra arguments (``value``, ``grad``, ``value_fn`` for `optax.lbfgs`)
are passed to both.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["switch_at", "SwitchState"]


class SwitchState(NamedTuple):
    count: jax.Array
    first: Any
    second: Any


def switch_at(
    first: optax.GradientTransformation, second: optax.GradientTransformation, step: int
) -> optax.GradientTransformationExtraArgs:
    """``first`` for steps ``0 .. step-1``, then ``second``.

    Args:
        first: the optax transformation of the steps before ``step`` (extra-args ones such
            as `optax.lbfgs` included).
        second: the optax transformation from ``step`` on (likewise).
        step: the first step of ``second`` (>= 0).
    """
    if int(step) != step or step < 0:
        raise ValueError(f"`step` must be a non-negative integer, got step = {step!r}.")
    first = optax.with_extra_args_support(first)
    second = optax.with_extra_args_support(second)
    boundary = int(step)

    def init(params) -> SwitchState:
        return SwitchState(jnp.zeros([], jnp.int32), first.init(params), second.init(params))

    def update(updates, state: SwitchState, params=None, **extra):
        def run_first(s: SwitchState):
            u, new = first.update(updates, s.first, params, **extra)
            return u, SwitchState(s.count, new, s.second)

        def run_second(s: SwitchState):
            u, new = second.update(updates, s.second, params, **extra)
            return u, SwitchState(s.count, s.first, new)

        u, new = jax.lax.cond(state.count < boundary, run_first, run_second, state)
        return u, new._replace(count=state.count + 1)

    return optax.GradientTransformationExtraArgs(init, update)
