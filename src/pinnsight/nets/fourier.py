r"""Random Fourier features and exact periodicity, and the MLP that reads them.

**Fourier features** (Tancik et al. 2020, "Fourier features let networks learn high
frequency functions in low dimensional domains"; for PINNs Wang, Wang & Perdikaris 2021,
"On the eigenvector bias of Fourier feature networks"): the normalised input
$\tilde x\in\mathbb{R}^{d'}$ is lifted to

$$ \gamma(\tilde x) = \big[\cos(B\tilde x),\ \sin(B\tilde x)\big]\in\mathbb{R}^{D},\qquad
B\in\mathbb{R}^{D/2\times d'},\ B_{kj}\sim\mathcal{N}(0,\sigma^2), $$

with $B$ drawn once and **not trained**; $\sigma$ sets the frequencies the network sees
first (larger $\sigma$: finer features, and more risk of noisy fits).

**Exact periodicity** (Wang, Wang & Perdikaris 2023, "An expert's guide to training
physics-informed neural networks", arXiv:2308.08468, §4.2; ``PeriodEmbs`` in jaxpi): an
input $x_a$ with period $P_a$ is replaced by $\big(\cos(2\pi x_a/P_a), \sin(2\pi x_a/P_a)\big)$
before the Fourier features, so *every* network built on the embedding satisfies
$f(x + P_a e_a) = f(x)$ to rounding, whatever its weights; the periodic boundary
condition then needs no loss term.

**Why B is a static tuple.** pinnsight trains ``eqx.partition(net, eqx.is_inexact_array)``,
so a JAX-array field would be handed to the optimiser: a zero gradient keeps it fixed
under plain Adam, but weight decay, gradient noise or an L-BFGS line search would still
move it, and it would sit in every optimiser state. $B$ is therefore stored as a static
field of Python floats (a nested tuple: hashable, so jit caches and ``eqx.combine`` see
equal tree structures). It is part of the tree *structure*, not a leaf: it is never
trained, never in a gradient, never in ``main_kernels()``, and is not written by
``eqx.tree_serialise_leaves``; loading a checkpoint rebuilds it from the same ``key``
(as pinnsight's run folders already rebuild the skeleton from the config).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .base import AbstractNetwork, check_layers, glorot_normal

__all__ = ["FourierEmbedding", "FourierMLP", "check_periodic"]


def check_periodic(periodic, in_size: int) -> tuple[tuple[int, float], ...]:
    """``periodic`` as a sorted tuple of ``(axis, period)`` pairs, or a clear ``ValueError``.

    Accepts pairs (``((1, 2.0),)``, or lists from a JSON config) or a mapping
    ``{axis: period}``. Rule: each axis an integer in ``[0, in_size)``, each at most once, each period > 0.
    """
    rule = (
        f"`periodic` must be a sequence of (axis, period) pairs with 0 <= axis < {in_size}, "
        "each axis at most once and period > 0, e.g. ((1, 2.0),)"
    )
    items = periodic.items() if isinstance(periodic, Mapping) else periodic
    try:
        pairs = tuple((float(a), float(p)) for a, p in items)
    except (TypeError, ValueError):
        raise ValueError(f"{rule}; got periodic = {periodic!r}.") from None
    axes = [a for a, _ in pairs]
    valid = all(a.is_integer() and 0 <= a < in_size and p > 0 and math.isfinite(p) for a, p in pairs)
    if not valid or len(set(axes)) != len(axes):
        raise ValueError(f"{rule}; got periodic = {periodic!r}.")
    return tuple(sorted((int(a), p) for a, p in pairs))


def _input_constants(shift, scale, in_size: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    shift = tuple(float(v) for v in shift) if shift is not None else (0.0,) * in_size
    scale = tuple(float(v) for v in scale) if scale is not None else (1.0,) * in_size
    if len(shift) != in_size or len(scale) != in_size or not all(s > 0 for s in scale):
        raise ValueError(
            f"`shift` and `scale` must have one entry per input (d = {in_size}) and scale > 0; "
            f"got shift = {shift}, scale = {scale}."
        )
    return shift, scale


class FourierEmbedding(eqx.Module):
    r"""$x\mapsto\gamma(\tilde x)$: optional periodic lift, then random Fourier features.

    $\tilde x$ holds, in input order, $(x_j-\mu_j)/\sigma_j$ for a non-periodic input and
    $\cos(2\pi x_a/P_a), \sin(2\pi x_a/P_a)$ for a periodic one (raw $x_a$: normalising it
    would only shift the phase), so $d' = d + $ (number of periodic axes). Then
    $\gamma(\tilde x) = [\cos(B\tilde x), \sin(B\tilde x)]$, shape ``(embed_dim,)``.
    A module with no array leaf: nothing in it is trained (see the module docstring).

    Args:
        in_size: $d$, the size of one input point.
        key: PRNG key for $B$.
        embed_dim: $D$, even, >= 2.
        sigma: standard deviation of the entries of $B$, > 0.
        periodic: ``(axis, period)`` pairs (see `check_periodic`).
        shift, scale: input normalisation $\mu,\sigma$ (length $d$); default 0 and 1.
    """

    frequencies: tuple[tuple[float, ...], ...] = eqx.field(static=True)
    periodic: tuple[tuple[int, float], ...] = eqx.field(static=True)
    shift: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)
    in_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        *,
        key: jax.Array,
        embed_dim: int = 256,
        sigma: float = 1.0,
        periodic: Sequence[tuple[int, float]] | Mapping[int, float] = (),
        shift: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
    ):
        if int(embed_dim) != embed_dim or embed_dim < 2 or embed_dim % 2:
            raise ValueError(
                f"`embed_dim` must be an even integer >= 2 (a cos and a sin per frequency), "
                f"got embed_dim = {embed_dim}."
            )
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"`sigma` (the Fourier frequency scale) must be > 0, got sigma = {sigma}.")
        self.in_size = int(in_size)
        self.periodic = check_periodic(periodic, self.in_size)
        self.shift, self.scale = _input_constants(shift, scale, self.in_size)
        lifted = self.in_size + len(self.periodic)
        b = float(sigma) * np.asarray(jax.random.normal(key, (int(embed_dim) // 2, lifted)), np.float64)
        self.frequencies = tuple(tuple(float(v) for v in row) for row in b)

    @property
    def embed_dim(self) -> int:
        """$D$, the size of $\\gamma$."""
        return 2 * len(self.frequencies)

    @property
    def B(self) -> np.ndarray:  # noqa: N802 - the papers' name
        """The frozen frequency matrix $B$, shape ``(embed_dim // 2, d')`` (a NumPy copy)."""
        return np.asarray(self.frequencies)

    def lift(self, x: jax.Array) -> jax.Array:
        r"""$\tilde x$: normalised inputs, periodic ones as $(\cos, \sin)$ pairs; shape ``(d',)``."""
        period = dict(self.periodic)
        parts = []
        for j in range(self.in_size):
            if j in period:
                angle = (2.0 * math.pi / period[j]) * x[j]
                parts += [jnp.cos(angle), jnp.sin(angle)]
            else:
                parts.append((x[j] - self.shift[j]) / self.scale[j])
        return jnp.stack(parts)

    def __call__(self, x: jax.Array) -> jax.Array:
        """$\\gamma(\\tilde x)$, shape ``(embed_dim,)``, of one point ``x`` of shape ``(d,)``."""
        xt = self.lift(x)
        z = jnp.asarray(self.frequencies, dtype=xt.dtype) @ xt
        return jnp.concatenate([jnp.cos(z), jnp.sin(z)])


class FourierMLP(AbstractNetwork):
    r"""A tanh MLP on random Fourier features (and optional exact periodicity).

    $$ H^1 = \tanh(\gamma(\tilde x) W^1 + b^1),\quad H^{k+1} = \tanh(H^k W^{k+1} + b^{k+1}),
    \quad f_\theta(x) = H^L W^{L+1} + b^{L+1}, $$

    with $\gamma$ the `FourierEmbedding` ($B$ frozen). ``layers[0]`` is $d$, the input
    size; the first kernel $W^1$ has shape ``(embed_dim, layers[1])``.

    ``embed_dim`` defaults to 256, the value of every Fourier-feature config in jaxpi and
    the Expert's guide: 128 frequencies cover the spectrum a draw with scale $\sigma$ can
    reach, and cost only one ``(128, d')`` product and a wider first kernel.
    Unlike jaxpi, whose ``FourierEmbs`` kernel is a trained parameter, $B$ here is fixed,
    as in Tancik et al. and the PINN Fourier-feature paper.

    Args:
        layers: sizes ``(d, n_1, ..., n_L, m)``.
        key: PRNG key (split between $B$ and the kernels).
        shift, scale: input normalisation $\mu,\sigma$ (length $d$); default 0 and 1.
        sigma: scale of $B$ (> 0); 1 to 10 in the papers, higher for finer solutions.
        embed_dim: $D$, even.
        periodic: ``(axis, period)`` pairs for exactly periodic inputs.
    """

    embedding: FourierEmbedding
    kernels: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    layers: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        layers: Sequence[int],
        *,
        key: jax.Array,
        shift: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        sigma: float = 1.0,
        embed_dim: int = 256,
        periodic: Sequence[tuple[int, float]] | Mapping[int, float] = (),
    ):
        self.layers = check_layers(layers)
        k_emb, k_main = jax.random.split(key)
        self.embedding = FourierEmbedding(
            self.layers[0],
            key=k_emb,
            embed_dim=embed_dim,
            sigma=sigma,
            periodic=periodic,
            shift=shift,
            scale=scale,
        )
        sizes = (self.embedding.embed_dim, *self.layers[1:])
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        keys = jax.random.split(k_main, len(pairs))
        self.kernels = tuple(glorot_normal(k, a, b) for k, (a, b) in zip(keys, pairs, strict=True))
        self.biases = tuple(jnp.zeros((b,), self.kernels[0].dtype) for _, b in pairs)

    def main_kernels(self) -> list[jax.Array]:
        """Every trained weight matrix, the first ``(embed_dim, n_1)`` included; never $B$."""
        return list(self.kernels)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.embedding(x)
        for w, b in zip(self.kernels[:-1], self.biases[:-1], strict=True):
            h = jnp.tanh(h @ w + b)
        return h @ self.kernels[-1] + self.biases[-1]
