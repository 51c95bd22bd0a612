r"""Gradient statistics of each loss term: the imbalance scalars and per-layer histograms (PAPER §2).

- `gradient_summary`: per term, $\max|\nabla_\theta\mathcal{L}_i|$ and
  $\overline{|\nabla_\theta\mathcal{L}_i|}$ over the main kernels, and the imbalance
  $R_i = \max|\nabla_\theta\mathcal{L}_r| / \overline{|\nabla_\theta\mathcal{L}_i|}$
  that drives annealing (eq. 40). Logged with the metrics of every run.
- `layer_histograms`: the distribution of the back-propagated gradients of each loss
  term for each layer's kernel, computed inside JAX (only counts leave the device).
  The bins follow the data: nothing is clipped into an end bin.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ..weighting.base import gradient_statistics

__all__ = [
    "gradient_summary",
    "histogram",
    "histogram_on_edges",
    "bin_edges",
    "layer_histograms",
    "LOG_RANGE",
]

LOG_RANGE = (-12.0, 2.0)
"""Range of the $\\log_{10}|g|$ histograms of a step whose gradients are all zero (or
non-finite); otherwise the range is the data's own (see `layer_histograms`)."""


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


def bin_edges(lo: jax.Array, hi: jax.Array, bins: int) -> jax.Array:
    """``bins + 1`` equally spaced non-decreasing edges; ``edges[0] == lo``, ``edges[-1] == hi`` exactly."""
    lo, hi = jnp.asarray(lo), jnp.asarray(hi)
    t = jnp.arange(bins + 1, dtype=jnp.result_type(lo, hi, float)) / bins
    return (lo + (hi - lo) * t).at[-1].set(hi)


def histogram_on_edges(values: jax.Array, edges: jax.Array) -> jax.Array:
    """Counts of ``values`` in the bins ``[edges[i], edges[i+1])``, the last bin closed.

    The same counts as ``numpy.histogram(values, edges)`` for equally spaced ``edges`` (as
    `bin_edges` makes): the bin estimated from the width is corrected by comparing the value
    with the edges themselves (as numpy does), so rounding never moves a value into a
    neighbouring bin. Values outside ``[edges[0], edges[-1]]`` or non-finite are not counted
    (never clipped into an end bin). jit-safe; ``edges`` may be traced.
    """
    bins = edges.shape[0] - 1
    v = values.ravel()
    lo, hi = edges[0], edges[-1]
    width = jnp.where(hi > lo, hi - lo, 1.0)
    est = jnp.floor((v - lo) / width * bins)
    idx = jnp.clip(jnp.where(jnp.isfinite(est), est, 0), 0, bins - 1).astype(jnp.int32)
    for _ in range(2):  # each pass moves by one bin toward edges[idx] <= v < edges[idx + 1]
        idx = idx - ((v < edges[idx]) & (idx > 0))
        idx = idx + ((v >= edges[idx + 1]) & (idx < bins - 1))  # the last bin is closed
    inside = (v >= lo) & (v <= hi)  # False for NaN
    return jnp.bincount(jnp.where(inside, idx, bins), length=bins + 1)[:bins]


def histogram(values: jax.Array, lo: jax.Array, hi: jax.Array, bins: int) -> jax.Array:
    """Counts of ``values`` in ``bins`` equal bins on ``[lo, hi]`` (edges `bin_edges`), the last bin closed.

    jit-safe (``lo``, ``hi`` may be traced, ``bins`` static). Values outside ``[lo, hi]``
    are not counted: choose the range from the data to count them all.
    """
    return histogram_on_edges(values, bin_edges(lo, hi, bins))


def _log_abs(k: jax.Array) -> tuple[jax.Array, jax.Array]:
    """$\\log_{10}|k|$ and the mask of its finite entries (zeros give ``-inf``)."""
    y = jnp.log10(jnp.abs(k))
    return y, jnp.isfinite(y)


def layer_histograms(kernels: dict[str, Sequence[jax.Array]], bins: int) -> dict[str, dict[str, jax.Array]]:
    r"""Per term and layer, histograms of the kernel gradient $g$ whose bins follow the data.

    - ``counts`` / ``edges``: signed $g$ on $[-m, m]$, $m = \max|g|$ over all terms of
      that layer (shared, so densities overlay; $[-1, 1]$ if all are zero); every entry is
      counted, $\pm m$ included.
    - ``log_counts`` / ``log_edges``: $\log_{10}|g|$ of the nonzero entries on
      $[\lfloor\min\log_{10}|g|\rfloor, \lceil\max\log_{10}|g|\rceil]$, the extremes taken
      over the nonzero finite entries of all terms and layers (one range for the call, i.e.
      per recorded step), so each value lands in its own bin, none is clipped.
    - ``zero_counts``: the exact zeros ($\log_{10}|g| = -\infty$), in no log bin.

    Non-finite gradients are in no bin and do not set a range.
    jit-safe: the ranges are traced, ``bins`` is static.

    Returns ``{term: {"counts": (L, bins), "edges": (L, bins+1), "log_counts": (L, bins),
    "zero_counts": (L,), "log_edges": (bins+1,)}}`` (``log_edges`` the same for every term).
    """
    names = list(kernels)
    n_layers = len(kernels[names[0]])
    ranges = []
    for l in range(n_layers):
        a = [jnp.abs(kernels[n][l]) for n in names]
        m = jnp.max(jnp.stack([jnp.max(jnp.where(jnp.isfinite(x), x, 0.0)) for x in a]))
        ranges.append(jnp.where(m > 0, m, 1.0))
    logs = {n: [_log_abs(k) for k in kernels[n]] for n in names}
    lo = jnp.min(jnp.stack([jnp.min(jnp.where(f, y, jnp.inf)) for n in names for y, f in logs[n]]))
    hi = jnp.max(jnp.stack([jnp.max(jnp.where(f, y, -jnp.inf)) for n in names for y, f in logs[n]]))
    found = jnp.isfinite(lo)
    lo = jnp.where(found, jnp.floor(lo), LOG_RANGE[0])
    hi = jnp.where(found, jnp.ceil(hi), LOG_RANGE[1])
    hi = jnp.where(hi > lo, hi, lo + 1.0)
    log_edges = bin_edges(lo, hi, bins)
    out = {}
    for n in names:
        counts, edges, logc, zeros = [], [], [], []
        for l, k in enumerate(kernels[n]):
            e = bin_edges(-ranges[l], ranges[l], bins)
            counts.append(histogram_on_edges(k, e))
            edges.append(e)
            y, _ = logs[n][l]
            logc.append(histogram_on_edges(y, log_edges))
            zeros.append(jnp.sum(y == -jnp.inf))
        out[n] = {
            "counts": jnp.stack(counts),
            "edges": jnp.stack(edges),
            "log_counts": jnp.stack(logc),
            "zero_counts": jnp.stack(zeros),
            "log_edges": log_edges,
        }
    return out
