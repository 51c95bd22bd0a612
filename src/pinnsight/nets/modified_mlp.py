"""The modified MLP of the paper's models M3 and M4 (PAPER §4, eqs. 43–47)."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractNetwork, check_layers, glorot_normal, normalise


class ModifiedMLP(AbstractNetwork):
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
        shift (Sequence[float] | None): input shift $\mu$ (length $d$); default 0.
        scale (Sequence[float] | None): input scale $\sigma$ (length $d$); default 1.
    """

    kernels: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    encoder_kernels: tuple[jax.Array, jax.Array]
    encoder_biases: tuple[jax.Array, jax.Array]
    layers: tuple[int, ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, layers: Sequence[int], *, key: jax.Array, shift=None, scale=None):
        self.layers = check_layers(layers)
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
        h = normalise(x, self.shift, self.scale)
        u = jnp.tanh(h @ self.encoder_kernels[0] + self.encoder_biases[0])
        v = jnp.tanh(h @ self.encoder_kernels[1] + self.encoder_biases[1])
        for w, b in zip(self.kernels[:-1], self.biases[:-1], strict=True):
            z = jnp.tanh(h @ w + b)
            h = z * u + (1.0 - z) * v
        return h @ self.kernels[-1] + self.biases[-1]
