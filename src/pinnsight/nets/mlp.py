"""The fully connected tanh network of the paper's models M1 and M2 (PAPER §5)."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractNetwork, check_layers, glorot_normal, normalise


class MLP(AbstractNetwork):
    r"""The fully connected network of M1/M2.

    $$ H^1 = \tanh(\tilde x W^1 + b^1),\quad H^{k+1} = \tanh(H^k W^{k+1} + b^{k+1}),\quad
    f_\theta(x) = H^L W^{L+1} + b^{L+1}. $$

    Args:
        layers: sizes ``(d, n_1, ..., n_L, m)``.
        key: PRNG key for the kernels.
        shift (Sequence[float] | None): input shift $\mu$ (length $d$); default 0.
        scale (Sequence[float] | None): input scale $\sigma$ (length $d$); default 1. The network sees
            $\tilde x = (x - \mu)/\sigma$.
    """

    kernels: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    layers: tuple[int, ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, layers: Sequence[int], *, key: jax.Array, shift=None, scale=None):
        self.layers = check_layers(layers)
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
        h = normalise(x, self.shift, self.scale)
        for w, b in zip(self.kernels[:-1], self.biases[:-1], strict=True):
            h = jnp.tanh(h @ w + b)
        return h @ self.kernels[-1] + self.biases[-1]
