r"""Random weight factorisation (RWF) of dense layers, and the MLP built from it.

Wang, Wang & Perdikaris 2022, "Random weight factorization improves the training of
continuous neural representations", arXiv:2210.01274 (and the Expert's guide,
arXiv:2308.08468, §4.3). Each dense kernel $W\in\mathbb{R}^{n_\text{in}\times n_\text{out}}$
is written per output unit $j$ as

$$ W_{ij} = e^{s_j}\,V_{ij},\qquad\text{i.e. } W = V\,\mathrm{diag}(e^{s}), $$

(the paper's $\mathrm{diag}(e^s)V$ in its column-vector convention), and $s$ and $V$ are
trained instead of $W$. Initialisation: $W_0$ Glorot-normal, $s\sim\mathcal{N}(\mu,\sigma)$
with $\mu = 1, \sigma = 0.1$ (jaxpi's configs), $V = W_0/e^{s}$, so the factorised network
starts *equal* to the plain one; only the training dynamics change (each unit gets its
own learnable scale, which the paper shows shortens the distance to good minima).
jaxpi stores and trains $g = e^{s}$ itself; this file trains $s$, as the paper writes it.

**What ``main_kernels()`` returns.** pinnsight calls ``main_kernels()`` on the *gradient*
pytree (``grads.main_kernels()``, same type as the network, leaves replaced by
$\partial\mathcal{L}/\partial\text{leaf}$). It must therefore return leaves, not values
computed from them: the factorised networks return the trained matrices $V$, so the
balancers and diagnostics see $\partial\mathcal{L}/\partial V = e^{s_j}\,\partial\mathcal{L}/\partial W$
(column $j$). The effective kernels $W$ of a network are given by ``effective_kernels()``
(meaningful on a network, not on its gradient).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractNetwork, check_layers, glorot_normal, normalise

__all__ = ["Dense", "RWFMLP", "factorise"]


def _check_rwf(mu: float, sigma: float) -> None:
    if not math.isfinite(mu):
        raise ValueError(f"`mu` (mean of the RWF log-scales s) must be finite, got mu = {mu}.")
    if not (sigma >= 0 and math.isfinite(sigma)):
        raise ValueError(f"`sigma` (std of the RWF log-scales s) must be >= 0, got sigma = {sigma}.")


def factorise(
    kernel: jax.Array, key: jax.Array, mu: float = 1.0, sigma: float = 0.1
) -> tuple[jax.Array, jax.Array]:
    r"""$(s, V)$ with $s\sim\mathcal{N}(\mu,\sigma)$ per output unit and $V = W/e^{s}$.

    ``kernel`` has shape ``(n_in, n_out)``; ``s`` has shape ``(n_out,)`` and ``V`` the
    shape of ``kernel``, both in its dtype, and ``V * exp(s)[None, :]`` equals ``kernel``
    to rounding.
    """
    if kernel.ndim != 2:
        raise ValueError(f"`kernel` must be a 2-D (n_in, n_out) matrix, got shape {kernel.shape}.")
    _check_rwf(mu, sigma)
    return _factorise(kernel, key, mu, sigma)


@jax.jit
def _factorise(kernel: jax.Array, key: jax.Array, mu: float, sigma: float) -> tuple[jax.Array, jax.Array]:
    # one compiled call per shape instead of five eagerly dispatched (and compiled) ops
    s = mu + sigma * jax.random.normal(key, (kernel.shape[1],), dtype=kernel.dtype)
    return s, kernel / jnp.exp(s)[None, :]


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _dense_init(key: jax.Array, fan_in: int, fan_out: int, rwf: bool, mu: float, sigma: float):
    """``(kernel, bias, log_scale)`` of a `Dense`, compiled once per shape.

    $W_0$ is ``glorot_normal(key, ...)``, exactly the kernel `MLP` draws from the same key;
    $s$ comes from ``fold_in(key, 1)``.
    """
    w = glorot_normal(key, fan_in, fan_out)
    bias = jnp.zeros((fan_out,), w.dtype)
    if not rwf:
        return w, bias, None
    s, v = _factorise(w, jax.random.fold_in(key, 1), mu, sigma)
    return v, bias, s


class Dense(eqx.Module):
    r"""$h\mapsto hW + b$, with $W$ stored plain or factorised ($W = V\,\mathrm{diag}(e^s)$).

    ``kernel`` is the trained matrix: $W$ for a plain layer (``log_scale is None``), $V$ for
    a factorised one; ``weight()`` gives $W$ either way. Reusable by any network that wants
    RWF as an option (`PirateNet`, or a modified MLP).

    Args:
        fan_in, fan_out: sizes.
        key: PRNG key: $W_0$ = ``glorot_normal(key, fan_in, fan_out)``, $s$ from
            ``fold_in(key, 1)``.
        rwf: factorise the kernel.
        mu, sigma: mean and std of $s$ (used when ``rwf``).
    """

    kernel: jax.Array
    bias: jax.Array
    log_scale: jax.Array | None

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        *,
        key: jax.Array,
        rwf: bool = True,
        mu: float = 1.0,
        sigma: float = 0.1,
    ):
        if rwf:
            _check_rwf(mu, sigma)
        init = _dense_init(key, int(fan_in), int(fan_out), bool(rwf), float(mu), float(sigma))
        self.kernel, self.bias, self.log_scale = init

    def weight(self) -> jax.Array:
        """The effective kernel $W$, shape ``(fan_in, fan_out)``."""
        if self.log_scale is None:
            return self.kernel
        return self.kernel * jnp.exp(self.log_scale)[None, :]

    def __call__(self, h: jax.Array) -> jax.Array:
        return h @ self.weight() + self.bias


class RWFMLP(AbstractNetwork):
    r"""The tanh `MLP` with every dense layer factorised (RWF).

    $$ H^1 = \tanh(\tilde x W^1 + b^1),\ H^{k+1} = \tanh(H^k W^{k+1} + b^{k+1}),\
    f_\theta(x) = H^L W^{L+1} + b^{L+1},\qquad W^k = V^k\,\mathrm{diag}(e^{s^k}). $$

    Layer $k$ is a factorised `Dense` keyed by ``jax.random.split(key, n_layers)[k]``, the
    key `MLP` draws its kernel $k$ from, so ``RWFMLP(layers, key=k)`` computes the same
    function as ``MLP(layers, key=k)`` at initialisation, to rounding. ``main_kernels()``
    returns the $V^k$ (see the module docstring); ``effective_kernels()`` the $W^k$.

    Args:
        layers: sizes ``(d, n_1, ..., n_L, m)``.
        key: PRNG key.
        shift, scale: input normalisation $\mu, \sigma$ (length $d$); default 0 and 1.
        mu, sigma: mean and std of the log-scales $s$ (default 1.0 and 0.1, as jaxpi).
    """

    dense: tuple[Dense, ...]
    layers: tuple[int, ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        layers: Sequence[int],
        *,
        key: jax.Array,
        shift: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        mu: float = 1.0,
        sigma: float = 0.1,
    ):
        self.layers = check_layers(layers)
        pairs = list(zip(self.layers[:-1], self.layers[1:], strict=True))
        keys = jax.random.split(key, len(pairs))
        self.dense = tuple(
            Dense(a, b, key=k, rwf=True, mu=mu, sigma=sigma) for k, (a, b) in zip(keys, pairs, strict=True)
        )
        d = self.layers[0]
        self.shift = tuple(shift) if shift is not None else (0.0,) * d
        self.scale = tuple(scale) if scale is not None else (1.0,) * d

    def effective_kernels(self) -> list[jax.Array]:
        r"""The kernels $W^k = V^k\,\mathrm{diag}(e^{s^k})$ the network computes with."""
        return [layer.weight() for layer in self.dense]

    def main_kernels(self) -> list[jax.Array]:
        """The trained matrices $V^k$ (leaves, so this works on a gradient pytree too)."""
        return [layer.kernel for layer in self.dense]

    def __call__(self, x: jax.Array) -> jax.Array:
        h = normalise(x, self.shift, self.scale)
        for layer in self.dense[:-1]:
            h = jnp.tanh(layer(h))
        return self.dense[-1](h)
