r"""Gradient statistics of each loss term: the imbalance scalars and per-layer histograms (PAPER §2).

- `gradient_summary`: per term, $\max|\nabla_\theta\mathcal{L}_i|$ and
  $\overline{|\nabla_\theta\mathcal{L}_i|}$ over the main kernels, and the imbalance
  $R_i = \max|\nabla_\theta\mathcal{L}_r| / \overline{|\nabla_\theta\mathcal{L}_i|}$
  that drives annealing (eq. 40). Logged with the metrics of every run.
- `layer_histograms`: the distribution of the back-propagated gradients of each loss
  term for each layer's kernel, computed inside JAX (only counts leave the device).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ..weighting.base import gradient_statistics

__all__ = ["gradient_summary", "histogram", "layer_histograms", "LOG_RANGE"]

LOG_RANGE = (-12.0, 2.0)
"""Fixed range of the $\\log_{10}|g|$ histograms; values outside are clipped into the end bins."""


def gradient_summary(kernels: dict[str, Sequence[jax.Array]], groups: Sequence[str]) -> dict[str, jax.Array]:
    r"""Scalars of the imbalance: ``gmax_*``, ``gmean_*`` per term and ``imbalance_<g>``.

    ``kernels[name]`` is the list of per-layer kernel gradients of term ``name``
    (``"residual"`` and each group, unweighted). The mean is the mean of per-layer means.
    """
    out: dict[str, jax.Array] = {}
    for name, ks in kernels.items():
        out[f"gmax_{name}"], out[f"gmean_{name}"] = gradient_statistics(ks)
    for g in groups:
        out[f"imbalance_{g}"] = out["gmax_residual"] / out[f"gmean_{g}"]
    return out


def histogram(values: jax.Array, lo: jax.Array, hi: jax.Array, bins: int) -> jax.Array:
    """Counts of ``values`` in ``bins`` equal bins on ``[lo, hi]``; outliers go to the end bins.

    jit-safe (``lo``, ``hi`` may be traced); the counts sum to ``values.size``.
    """
    width = jnp.where(hi > lo, hi - lo, 1.0)
    idx = jnp.floor((values.ravel() - lo) / width * bins).astype(jnp.int32)
    return jnp.bincount(jnp.clip(idx, 0, bins - 1), length=bins)


def layer_histograms(kernels: dict[str, Sequence[jax.Array]], bins: int) -> dict[str, dict[str, jax.Array]]:
    r"""Per term and layer: signed histogram on a symmetric range shared by all terms of
    that layer (so densities overlay), and a histogram of $\log_{10}|g|$ on `LOG_RANGE`.

    Returns ``{term: {"counts": (L, bins), "edges": (L, bins+1), "log_counts": (L, bins)}}``.
    """
    names = list(kernels)
    n_layers = len(kernels[names[0]])
    ranges = [jnp.max(jnp.stack([jnp.max(jnp.abs(kernels[n][l])) for n in names])) for l in range(n_layers)]
    out = {}
    for n in names:
        counts, edges, logc = [], [], []
        for l, k in enumerate(kernels[n]):
            m = ranges[l]
            counts.append(histogram(k, -m, m, bins))
            edges.append(jnp.linspace(-m, m, bins + 1))
            logk = jnp.log10(jnp.abs(k) + 1e-30)
            logc.append(histogram(logk, LOG_RANGE[0], LOG_RANGE[1], bins))
        out[n] = {
            "counts": jnp.stack(counts),
            "edges": jnp.stack(edges),
            "log_counts": jnp.stack(logc),
        }
    return out
