r"""Networks of one point: the plain MLP (M1, M2) and the modified MLP (M3, M4).

Both map one point $x\in\mathbb{R}^d$ to $f_\theta(x)\in\mathbb{R}^m$ and are Equinox
modules (pytrees), batched with `jax.vmap` outside. As in the official code (PAPER §5):
tanh activations, a linear output layer, Glorot-normal kernels (not truncated,
$\mathrm{std}=\sqrt{2/(n_\text{in}+n_\text{out})}$), zero biases, and inputs normalised
as $\tilde x = (x-\mu)/\sigma$ with $\mu, \sigma$ the mean and standard deviation of
uniform samples of the domain (so derivatives carry the factor $1/\sigma$ automatically).

The normalisation constants are static fields: they are not trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["MLP", "ModifiedMLP", "glorot_normal", "input_stats"]


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


def _check_layers(layers: Sequence[int]) -> tuple[int, ...]:
    layers = tuple(int(v) for v in layers)
    if len(layers) < 3 or any(v < 1 for v in layers):
        raise ValueError(
            "`layers` must list at least input, one hidden and output size, all >= 1, "
            f"e.g. (2, 50, 50, 1); got {layers}."
        )
    return layers


class MLP(eqx.Module):
    r"""The fully connected network of M1/M2.

    $$ H^1 = \tanh(\tilde x W^1 + b^1),\quad H^{k+1} = \tanh(H^k W^{k+1} + b^{k+1}),\quad
    f_\theta(x) = H^L W^{L+1} + b^{L+1}. $$

    Args:
        layers: sizes ``(d, n_1, ..., n_L, m)``.
        key: PRNG key for the kernels.
        shift, scale: input normalisation $\mu, \sigma$ (length $d$); default 0 and 1.
    """

    kernels: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    layers: tuple[int, ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, layers: Sequence[int], *, key: jax.Array, shift=None, scale=None):
        self.layers = _check_layers(layers)
        keys = jax.random.split(key, len(self.layers) - 1)
        pairs = list(zip(self.layers[:-1], self.layers[1:], strict=True))
        self.kernels = tuple(glorot_normal(k, a, b) for k, (a, b) in zip(keys, pairs, strict=True))
        self.biases = tuple(jnp.zeros((b,), self.kernels[0].dtype) for _, b in pairs)
        d = self.layers[0]
        self.shift = tuple(shift) if shift is not None else (0.0,) * d
        self.scale = tuple(scale) if scale is not None else (1.0,) * d

    def main_kernels(self) -> list[jax.Array]:
        """The kernels the annealing statistics use (every layer's weight matrix)."""
        return list(self.kernels)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = (x - jnp.asarray(self.shift, x.dtype)) / jnp.asarray(self.scale, x.dtype)
        for w, b in zip(self.kernels[:-1], self.biases[:-1], strict=True):
            h = jnp.tanh(h @ w + b)
        return h @ self.kernels[-1] + self.biases[-1]


class ModifiedMLP(eqx.Module):
    r"""The modified MLP of M3/M4 (PAPER §4, eqs. 43–47), as the official code builds it.

    $$ U = \tanh(\tilde x W^u + b^u),\quad V = \tanh(\tilde x W^v + b^v),\quad H^1=\tilde x,$$
    $$ Z^k = \tanh(H^k W^k + b^k),\quad H^{k+1} = Z^k\odot U + (1-Z^k)\odot V,\quad
    k = 1..L,\qquad f_\theta(x) = H^{L+1} W^{L+1} + b^{L+1}. $$

    Every hidden layer is gated (the first included), so the main kernels have the
    same shapes as the `MLP` with the same ``layers``; the encoder adds
    $2(d+1)n$ parameters. Encoder biases are random normal (Glorot-normal on a
    ``(1, n)`` shape), as in the official code; all widths must be equal.
    The paper writes the gate as $(1-Z)\odot U + Z\odot V$; this is the same
    network with $U$ and $V$ swapped.

    Args:
        layers: sizes ``(d, n, ..., n, m)``.
        key: PRNG key.
        shift, scale: input normalisation $\mu, \sigma$.
    """

    kernels: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    encoder_kernels: tuple[jax.Array, jax.Array]
    encoder_biases: tuple[jax.Array, jax.Array]
    layers: tuple[int, ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, layers: Sequence[int], *, key: jax.Array, shift=None, scale=None):
        self.layers = _check_layers(layers)
        hidden = self.layers[1:-1]
        if len(set(hidden)) != 1:
            raise ValueError(f"ModifiedMLP needs equal hidden widths (the gate mixes U and V), got {hidden}.")
        width, d = hidden[0], self.layers[0]
        k_main, k_u, k_v, k_bu, k_bv = jax.random.split(key, 5)
        keys = jax.random.split(k_main, len(self.layers) - 1)
        pairs = list(zip(self.layers[:-1], self.layers[1:], strict=True))
        self.kernels = tuple(glorot_normal(k, a, b) for k, (a, b) in zip(keys, pairs, strict=True))
        self.biases = tuple(jnp.zeros((b,), self.kernels[0].dtype) for _, b in pairs)
        self.encoder_kernels = (glorot_normal(k_u, d, width), glorot_normal(k_v, d, width))
        self.encoder_biases = (glorot_normal(k_bu, 1, width)[0], glorot_normal(k_bv, 1, width)[0])
        self.shift = tuple(shift) if shift is not None else (0.0,) * d
        self.scale = tuple(scale) if scale is not None else (1.0,) * d

    def main_kernels(self) -> list[jax.Array]:
        """The kernels the annealing statistics use: the gated layers and the output,
        not the encoder (as in the official code)."""
        return list(self.kernels)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = (x - jnp.asarray(self.shift, x.dtype)) / jnp.asarray(self.scale, x.dtype)
        u = jnp.tanh(h @ self.encoder_kernels[0] + self.encoder_biases[0])
        v = jnp.tanh(h @ self.encoder_kernels[1] + self.encoder_biases[1])
        for w, b in zip(self.kernels[:-1], self.biases[:-1], strict=True):
            z = jnp.tanh(h @ w + b)
            h = z * u + (1.0 - z) * v
        return h @ self.kernels[-1] + self.biases[-1]
