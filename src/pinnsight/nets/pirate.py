r"""PirateNet: residual adaptive network for PINNs, and its physics-informed initialisation.

Wang, Sankaran, Wang & Perdikaris 2024, "PirateNets: physics-informed deep learning with
residual adaptive networks", arXiv:2402.00326 (§3; ``PirateNet`` in jaxpi's ``archs.py``).

$$ \Phi = \gamma(\tilde x)\ \text{(random Fourier features, `FourierEmbedding`)},\quad
U = \tanh(\Phi W^u + b^u),\quad V = \tanh(\Phi W^v + b^v),\quad x^{(1)} = \Phi, $$

and for each residual block $l = 1..L$:

$$ f = \tanh(x^{(l)} W^{l}_1 + b^{l}_1),\quad z_1 = f\odot U + (1-f)\odot V, $$

$$ g = \tanh(z_1 W^{l}_2 + b^{l}_2),\quad z_2 = g\odot U + (1-g)\odot V, $$

$$ h = \tanh(z_2 W^{l}_3 + b^{l}_3),\quad x^{(l+1)} = \alpha_l h + (1-\alpha_l)\,x^{(l)}, $$

$$ f_\theta(x) = x^{(L+1)} W^\text{out} + b^\text{out}. $$

The skip weights $\alpha_l$ are trained and start at 0, so at initialisation every block is
the identity and the network is the *linear* model $\Phi(x)W^\text{out}$ ($b^\text{out}=0$):
depth is switched on gradually by training, which keeps deep PINNs trainable. Every dense
layer (gates, blocks, output) can be random-weight-factorised (`rwf.Dense`); biases start
at zero, kernels Glorot-normal, as in jaxpi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractNetwork, check_layers
from .fourier import FourierEmbedding
from .rwf import Dense

__all__ = ["PirateNet", "physics_informed_init"]


def _pirate_sizes(layers: Sequence[int]) -> tuple[tuple[int, ...], int, int]:
    """``(layers, width, blocks)`` from ``(d, w, ..., w, m)``, or a clear ``ValueError``."""
    layers = check_layers(layers)
    hidden = layers[1:-1]
    if len(set(hidden)) != 1 or len(hidden) % 3:
        raise ValueError(
            "PirateNet reads `layers` = (d, w, ..., w, m) as residual blocks of three dense layers "
            "of equal width w: the hidden entries must be equal and their number a multiple of 3, "
            f"e.g. (2, 256, 256, 256, 1) for one block; got layers = {layers} "
            f"({len(hidden)} hidden entries)."
        )
    return layers, hidden[0], len(hidden) // 3


class PirateNet(AbstractNetwork):
    r"""PirateNet (module docstring), built from ``layers`` like every pinnsight network.

    ``layers = (d, w, ..., w, m)`` with $3L$ hidden entries, all equal, means $L$ residual
    blocks of width $w$ (each hidden entry is one dense layer of a block): ``(2, 256, 256,
    256, 1)`` is one block, ``(2,) + (256,) * 9 + (1,)`` the paper's three. The blocks' state
    $x^{(l)}$ has the embedding's size $D$ (``embed_dim``, default $w$ as in jaxpi's
    configs), so $W_1^l$ is $D\times w$, $W_2^l$ $w\times w$, $W_3^l$ $w\times D$.
    `PirateNet.from_sizes` builds the same from ``(d, m, width, blocks)``.

    ``main_kernels()`` returns the trained matrices of the blocks and of the output layer
    (with RWF, the $V$ factors: see `pinnsight.nets.rwf`), not the gates (as `ModifiedMLP`
    leaves out its encoder). At initialisation ($\alpha = 0$) only the output layer and the
    $\alpha_l$ get a non-zero gradient, so the block kernels' gradients start at zero.

    Args:
        layers: sizes ``(d, w, ..., w, m)`` (see above).
        key: PRNG key.
        shift, scale: input normalisation $\mu,\sigma$ (length $d$); default 0 and 1.
        sigma: scale of the Fourier frequencies $B$ (> 0).
        embed_dim: $D$ (even); default $w$ (rounded up to even).
        periodic: ``(axis, period)`` pairs for exactly periodic inputs (`FourierEmbedding`).
        rwf: factorise every dense layer (default true, as in the paper).
        rwf_mu, rwf_sigma: mean and std of the RWF log-scales.
    """

    embedding: FourierEmbedding
    gates: tuple[Dense, Dense]
    dense: tuple[Dense, ...]
    alpha: jax.Array
    output: Dense
    layers: tuple[int, ...] = eqx.field(static=True)
    n_blocks: int = eqx.field(static=True)

    def __init__(
        self,
        layers: Sequence[int],
        *,
        key: jax.Array,
        shift: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        sigma: float = 1.0,
        embed_dim: int | None = None,
        periodic: Sequence[tuple[int, float]] | Mapping[int, float] = (),
        rwf: bool = True,
        rwf_mu: float = 1.0,
        rwf_sigma: float = 0.1,
    ):
        self.layers, width, self.n_blocks = _pirate_sizes(layers)
        embed_dim = width + width % 2 if embed_dim is None else embed_dim
        k_emb, k_gate, k_dense, k_out = jax.random.split(key, 4)
        self.embedding = FourierEmbedding(
            self.layers[0],
            key=k_emb,
            embed_dim=embed_dim,
            sigma=sigma,
            periodic=periodic,
            shift=shift,
            scale=scale,
        )
        D = self.embedding.embed_dim  # noqa: N806 - the paper's symbol
        opts = dict(rwf=rwf, mu=rwf_mu, sigma=rwf_sigma)
        ku, kv = jax.random.split(k_gate)
        self.gates = (Dense(D, width, key=ku, **opts), Dense(D, width, key=kv, **opts))
        sizes = [(D, width), (width, width), (width, D)] * self.n_blocks
        keys = jax.random.split(k_dense, len(sizes))
        self.dense = tuple(Dense(a, b, key=k, **opts) for k, (a, b) in zip(keys, sizes, strict=True))
        self.alpha = jnp.zeros((self.n_blocks,), self.gates[0].kernel.dtype)
        self.output = Dense(D, self.layers[-1], key=k_out, **opts)

    @classmethod
    def from_sizes(
        cls, in_size: int, out_size: int, *, width: int = 256, blocks: int = 3, key: jax.Array, **options
    ) -> PirateNet:
        """``PirateNet((in_size, *(width,) * 3 * blocks, out_size), key=key, **options)``."""
        if int(blocks) != blocks or blocks < 1:
            raise ValueError(f"`blocks` must be an integer >= 1, got blocks = {blocks}.")
        return cls((in_size, *(width,) * (3 * int(blocks)), out_size), key=key, **options)

    def main_kernels(self) -> list[jax.Array]:
        """The trained matrices of the residual blocks and the output layer (not the gates)."""
        return [layer.kernel for layer in self.dense] + [self.output.kernel]

    def features(self, x: jax.Array) -> jax.Array:
        r"""$x^{(L+1)}$, the input of the output layer, shape ``(embed_dim,)``; $\Phi(x)$ at init."""
        phi = self.embedding(x)
        u = jnp.tanh(self.gates[0](phi))
        v = jnp.tanh(self.gates[1](phi))
        h = phi
        for l in range(self.n_blocks):
            first, second, third = self.dense[3 * l : 3 * l + 3]
            f = jnp.tanh(first(h))
            z1 = f * u + (1.0 - f) * v
            g = jnp.tanh(second(z1))
            z2 = g * u + (1.0 - g) * v
            r = jnp.tanh(third(z2))
            h = self.alpha[l] * r + (1.0 - self.alpha[l]) * h
        return h

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.output(self.features(x))


def physics_informed_init(net: PirateNet, points, targets, *, rcond: float | None = None) -> PirateNet:
    r"""``net`` with its output kernel fitted to data by least squares (PirateNets §3.3).

    With $\Psi$ the matrix of `PirateNet.features` at ``points`` (at initialisation,
    $\alpha = 0$, this is $\Phi$, the Fourier features), the output kernel becomes

    $$ W^\text{out} = \arg\min_W \big\|\Psi W + b^\text{out} - Y\big\|_F^2 $$

    (``jnp.linalg.lstsq``; $b^\text{out}$ is kept, 0 at init), so the network starts as the
    best fit of the initial/boundary data $Y$ (``targets``) in the span of its features,
    instead of as noise; training then only has to correct it. With RWF the log-scales
    $s^\text{out}$ are kept and $V^\text{out} = W^\text{out}/e^{s^\text{out}}$. The returned
    network has the same tree structure as ``net`` (checkpoints and optimiser states fit it);
    jaxpi instead swaps the output layer for a bias-free plain one.

    Args:
        net: a `PirateNet`.
        points: inputs, shape ``(N, d)``.
        targets: values to fit, shape ``(N, m)`` (or ``(N,)`` when ``m == 1``).
        rcond: cut-off for small singular values (``jnp.linalg.lstsq``'s default if None).
    """
    if not isinstance(net, PirateNet):
        raise TypeError(f"physics_informed_init needs a PirateNet, got {type(net).__name__}.")
    d, m = net.layers[0], net.layers[-1]
    points = jnp.asarray(points)
    targets = jnp.asarray(targets, dtype=net.output.kernel.dtype)
    if points.ndim != 2 or points.shape[1] != d or points.shape[0] < 1:
        raise ValueError(f"`points` must have shape (N, {d}) with N >= 1, got shape {points.shape}.")
    if targets.ndim == 1 and m == 1:
        targets = targets[:, None]
    if targets.shape != (points.shape[0], m):
        raise ValueError(
            f"`targets` must have shape (N, {m}) = ({points.shape[0]}, {m}) to match `points`, "
            f"got shape {targets.shape}."
        )
    psi = jax.vmap(net.features)(points.astype(targets.dtype))
    w, *_ = jnp.linalg.lstsq(psi, targets - net.output.bias[None, :], rcond=rcond)
    if net.output.log_scale is not None:
        w = w / jnp.exp(net.output.log_scale)[None, :]
    return eqx.tree_at(lambda n: n.output.kernel, net, w.astype(net.output.kernel.dtype))
