r"""The network protocol, and what every network shares: initialisation and input scaling.

**Protocol.** A pinnsight network is an Equinox module (a pytree, so `jax.jit` and
`jax.grad` take it whole) that

- maps **one** point $x\in\mathbb{R}^d$, shape ``(d,)``, to $f_\theta(x)\in\mathbb{R}^m$,
  shape ``(m,)`` (pinnsight vmaps it over the batch), and
- names its *kernels* with ``main_kernels()``: the list of weight matrices whose
  gradient statistics the paper's annealing and the diagnostics use (PAPER §2, eq. 40).

Subclass `AbstractNetwork` to write one; `check_network` says precisely what is wrong
with an object that does not follow the protocol. Initialisation and input scaling follow
the official code (PAPER §5): Glorot-normal kernels, zero biases, inputs normalised by the
mean and standard deviation of uniform samples of the domain.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["AbstractNetwork", "check_network", "glorot_normal", "input_stats", "check_layers", "normalise"]


class AbstractNetwork(eqx.Module):
    """A network of one point: ``net(x)`` with ``x.shape == (d,)`` returns shape ``(m,)``.

    Concrete networks implement ``__call__`` and ``main_kernels``.
    """

    @abc.abstractmethod
    def __call__(self, x: jax.Array) -> jax.Array:
        r"""The output $f_\theta(x)$, shape ``(m,)``, of one point ``x`` of shape ``(d,)``."""

    @abc.abstractmethod
    def main_kernels(self) -> list[jax.Array]:
        """The weight matrices whose gradient statistics balancers and diagnostics use.

        It must *select* array leaves (no arithmetic): pinnsight calls it on gradient
        pytrees of the same structure to get the kernels' gradients.
        """


def check_network(net, in_dim: int, out_dim: int) -> None:
    """Raise a clear error unless ``net`` maps one point ``(in_dim,)`` to ``(out_dim,)``
    and names its kernels (the protocol above)."""
    if not callable(net):
        raise TypeError(f"the network must be callable on one point, got {type(net).__name__}.")
    if not callable(getattr(net, "main_kernels", None)):
        raise TypeError(
            f"{type(net).__name__} has no `main_kernels()` method: a pinnsight network names the "
            "weight matrices its gradient statistics use (subclass pinnsight.nets.AbstractNetwork)."
        )
    try:
        out = jax.eval_shape(net, jax.ShapeDtypeStruct((in_dim,), jnp.result_type(float)))
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise TypeError(f"the network failed on one point of shape ({in_dim},): {err}") from err
    if out.shape != (out_dim,):
        raise ValueError(
            f"the network maps one point ({in_dim},) to shape {out.shape}; this problem needs "
            f"({out_dim},). Check the first and last entries of `layers`."
        )


def glorot_normal(key: jax.Array, fan_in: int, fan_out: int, dtype=None) -> jax.Array:
    r"""$W_{ij}\sim\mathcal{N}(0, 2/(n_\text{in}+n_\text{out}))$, shape ``(fan_in, fan_out)``."""
    std = (2.0 / (fan_in + fan_out)) ** 0.5
    return std * jax.random.normal(key, (fan_in, fan_out), dtype=dtype)


def input_stats(domain, n: int = 100_000, seed: int = 1234) -> tuple[tuple, tuple]:
    """Mean and standard deviation of ``n`` uniform samples of ``domain`` (PAPER §5)."""
    pts = domain.sample(jax.random.PRNGKey(seed), n)
    mu = jnp.mean(pts, axis=0)
    sigma = jnp.std(pts, axis=0)
    sigma = jnp.where(sigma > 0, sigma, 1.0)
    return tuple(float(v) for v in mu), tuple(float(v) for v in sigma)


def check_layers(layers: Sequence[int]) -> tuple[int, ...]:
    layers = tuple(int(v) for v in layers)
    if len(layers) < 3 or any(v < 1 for v in layers):
        raise ValueError(
            "`layers` must list at least input, one hidden and output size, all >= 1, "
            f"e.g. (2, 50, 50, 1); got {layers}."
        )
    return layers


def normalise(x: jax.Array, shift: Sequence[float], scale: Sequence[float]) -> jax.Array:
    r"""$\tilde x = (x - \mu)/\sigma$ with static constants (not trained)."""
    return (x - jnp.asarray(shift, x.dtype)) / jnp.asarray(scale, x.dtype)
