r"""Seeing the pathology: gradient statistics, histograms and stiffness (PAPER §2).

- `gradient_summary`: per term, $\max|\nabla_\theta\mathcal{L}_i|$ and
  $\overline{|\nabla_\theta\mathcal{L}_i|}$ over the main kernels, and the imbalance
  $R_i = \max|\nabla_\theta\mathcal{L}_r| / \overline{|\nabla_\theta\mathcal{L}_i|}$
  that drives annealing (eq. 40). Logged with the metrics of every run.
- `layer_histograms`: the distribution of the back-propagated gradients of each loss
  term for each layer's kernel, computed inside JAX (only counts leave the device).
- `lanczos_max_eigenvalue`: $\sigma_{\max}(\nabla^2_\theta\mathcal{L})$ from
  Hessian-vector products (`jax.jvp` of `jax.grad`), never a dense Hessian. Gradient
  descent with step $\eta$ is stable only for $\eta < 2/\sigma_{\max}$.

Recorders (`HistogramRecorder`, `StiffnessRecorder`) are called by `fit` between
compiled chunks. Their points come from keys of their own (histograms use the probe
gradients `fit` already computes for the logged scalars), so recording never changes
the training trajectory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .losses import batch_sizes, sample_points, term_gradients
from .problem import Problem

__all__ = [
    "gradient_summary",
    "histogram",
    "layer_histograms",
    "hessian_vector_product",
    "lanczos_max_eigenvalue",
    "loss_max_eigenvalue",
    "HistogramRecorder",
    "StiffnessRecorder",
    "recorders_for",
    "DEFAULT_HIST_STEPS",
    "LOG_RANGE",
]

DEFAULT_HIST_STEPS = (0, 10_000, 20_000, 30_000, 40_000)
LOG_RANGE = (-12.0, 2.0)
"""Fixed range of the $\\log_{10}|g|$ histograms; values outside are clipped into the end bins."""

_DIAG_SALT = 0x5EED


def gradient_summary(kernels: dict[str, Sequence[jax.Array]], groups: Sequence[str]) -> dict[str, jax.Array]:
    r"""Scalars of the imbalance: ``gmax_*``, ``gmean_*`` per term and ``imbalance_<g>``.

    ``kernels[name]`` is the list of per-layer kernel gradients of term ``name``
    (``"residual"`` and each group, unweighted). The mean is the mean of per-layer means.
    """
    out: dict[str, jax.Array] = {}
    for name, ks in kernels.items():
        out[f"gmax_{name}"] = jnp.max(jnp.stack([jnp.max(jnp.abs(k)) for k in ks]))
        out[f"gmean_{name}"] = jnp.mean(jnp.stack([jnp.mean(jnp.abs(k)) for k in ks]))
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


def hessian_vector_product(loss: Callable[[jax.Array], jax.Array], x: jax.Array):
    r"""$v\mapsto\nabla^2 f(x)\,v$ by forward-over-reverse (`jvp` of `grad`)."""
    g = jax.grad(loss)
    return lambda v: jax.jvp(g, (x,), (v,))[1]


def lanczos_max_eigenvalue(
    matvec: Callable[[jax.Array], jax.Array],
    dim: int,
    *,
    num_iters: int = 20,
    key: jax.Array | None = None,
    dtype=None,
) -> jax.Array:
    r"""Largest eigenvalue of a symmetric operator from ``num_iters`` Lanczos steps.

    Builds the Krylov basis $v_1..v_k$ (with full re-orthogonalisation) and the
    tridiagonal $T_k = V^\top A V$; returns $\max \mathrm{eig}(T_k)$, which converges to
    $\lambda_{\max}(A)$ from below, usually within a few dozen products. ``num_iters`` is
    capped at ``dim``. jit-safe.

    Args:
        matvec: $v\mapsto Av$ on vectors of shape ``(dim,)``.
        dim: the dimension $n$.
        num_iters: Krylov dimension $k$.
        key: PRNG key of the start vector (default ``PRNGKey(0)``).
    """
    k = int(min(num_iters, dim))
    if k < 1:
        raise ValueError(f"`num_iters` must be >= 1, got {num_iters}.")
    dtype = dtype or jnp.result_type(float)
    key = jax.random.PRNGKey(0) if key is None else key
    v0 = jax.random.normal(key, (dim,), dtype)
    v0 = v0 / jnp.linalg.norm(v0)

    def body(j, carry):
        basis, alphas, betas, v, v_prev, beta_prev = carry
        basis = basis.at[j].set(v)
        w = matvec(v)
        alpha = jnp.dot(w, v)
        w = w - alpha * v - beta_prev * v_prev
        for _ in range(2):  # full re-orthogonalisation, twice for stability
            w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        safe = beta > 1e-12 * (jnp.abs(alpha) + 1.0)
        v_next = jnp.where(safe, w / jnp.where(safe, beta, 1.0), 0.0)
        return basis, alphas.at[j].set(alpha), betas.at[j].set(beta), v_next, v, beta

    init = (
        jnp.zeros((k, dim), dtype),
        jnp.zeros((k,), dtype),
        jnp.zeros((k,), dtype),
        v0,
        jnp.zeros((dim,), dtype),
        jnp.zeros((), dtype),
    )
    _, alphas, betas, *_ = jax.lax.fori_loop(0, k, body, init)
    tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    return jnp.max(jnp.linalg.eigvalsh(tri))


def total_loss_fn(problem: Problem, static, weights: dict[str, jax.Array], points, *, residual: bool = True):
    r"""$\theta\mapsto\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ on fixed ``points``
    (without $\mathcal{L}_r$ when ``residual`` is false)."""

    def loss(params):
        net = eqx.combine(params, static)
        total = problem.residual_loss(net, points["residual"]) if residual else 0.0
        for c in problem.conditions:
            total = total + weights[problem.group_of(c)] * problem.condition_loss(c, net, points[c])
        return total

    return loss


def loss_max_eigenvalue(
    problem: Problem,
    net: eqx.Module,
    points: dict[str, jax.Array],
    weights: dict[str, Any] | None = None,
    *,
    residual: bool = True,
    num_iters: int = 20,
    key: jax.Array | None = None,
) -> jax.Array:
    r"""$\sigma_{\max}$ of the Hessian of $\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ with
    respect to all trainable parameters, on fixed ``points`` (Lanczos on HVPs).

    ``weights`` default to 1; set a group's weight to 0 (and ``residual=False``) to get
    the stiffness of single terms."""
    params, static = eqx.partition(net, eqx.is_inexact_array)
    weights = weights or {g: 1.0 for g in problem.groups}
    flat, unravel = ravel_pytree(params)
    loss = total_loss_fn(problem, static, weights, points, residual=residual)
    hvp = hessian_vector_product(lambda f: loss(unravel(f)), flat)
    return lanczos_max_eigenvalue(hvp, flat.size, num_iters=num_iters, key=key, dtype=flat.dtype)


class _Recorder:
    """Base: a set of due steps and a diagnostics key independent of training."""

    def __init__(self, problem: Problem, sizes: dict[str, int], seed: int):
        self.problem = problem
        self.sizes = sizes
        self.key = jax.random.fold_in(jax.random.PRNGKey(seed), _DIAG_SALT)

    def due(self, step: int) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def next_due(self, done: int) -> int | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def step_key(self, step: int) -> jax.Array:
        return jax.random.fold_in(self.key, step)

    def finish(self) -> None:
        pass


class HistogramRecorder(_Recorder):
    r"""Histograms of $\nabla_W\mathcal{L}_r$, $\nabla_W\mathcal{L}_g$ and
    $\nabla_W(\lambda_g\mathcal{L}_g)$ per kernel $W$ at chosen steps.

    Saved to ``out_dir/histograms.npz`` with arrays ``steps`` (S,), ``terms``,
    ``<term>/counts`` (S, L, B), ``<term>/edges`` (S, L, B+1), ``<term>/log_counts``
    (S, L, B), ``log_edges`` (B+1,) and the `gradient_summary` scalars of the same
    points as ``summary/<name>`` (S,).
    """

    def __init__(self, problem, sizes, steps: Sequence[int], *, bins=60, seed=0, out_dir=None):
        super().__init__(problem, sizes, seed)
        self.steps = sorted(set(int(s) for s in steps))
        self.bins = int(bins)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.records: list[tuple[int, dict]] = []
        self.summaries: list[dict[str, float]] = []
        self._fn = None

    def due(self, step: int) -> bool:
        return step in self.steps

    def next_due(self, done: int) -> int | None:
        later = [s for s in self.steps if s > done]
        return later[0] if later else None

    def _compile(self):
        groups, bins = self.problem.groups, self.bins

        @jax.jit
        def fn(kernels, weights):
            summary = gradient_summary(kernels, groups)
            ks = dict(kernels)
            for g in groups:
                ks[f"{g}_weighted"] = [weights[g] * k for k in kernels[g]]
            return layer_histograms(ks, bins), summary

        return fn

    def __call__(self, step: int, state, static, kernels=None) -> None:
        """Record at a due step. ``kernels`` (per term, unweighted) are the probe
        gradients `fit` computes between chunks; without them they are computed here."""
        if not self.due(step):
            return
        if kernels is None:
            _, grads = term_gradients(self.problem, static, state.params, self.step_key(step), self.sizes)
            kernels = {name: g.main_kernels() for name, g in grads.items()}
        if self._fn is None:
            self._fn = self._compile()
        hist, summary = self._fn(kernels, state.balancer_state.weights)
        self.records.append((step, jax.tree_util.tree_map(np.asarray, hist)))
        self.summaries.append({k: float(v) for k, v in summary.items()})

    def as_arrays(self) -> dict[str, np.ndarray]:
        if not self.records:
            return {}
        terms = list(self.records[0][1])
        data: dict[str, np.ndarray] = {
            "steps": np.array([s for s, _ in self.records]),
            "terms": np.array(terms),
            "log_edges": np.linspace(*LOG_RANGE, self.bins + 1),
        }
        for t in terms:
            for field in ("counts", "edges", "log_counts"):
                data[f"{t}/{field}"] = np.stack([r[t][field] for _, r in self.records])
        for k in self.summaries[0]:
            data[f"summary/{k}"] = np.array([s[k] for s in self.summaries])
        return data

    def finish(self) -> None:
        if self.out_dir is not None and self.records:
            np.savez_compressed(self.out_dir / "histograms.npz", **self.as_arrays())


class StiffnessRecorder(_Recorder):
    r"""$\sigma_{\max}(\nabla^2_\theta\mathcal{L})$ every ``every`` steps (step 0 included),
    beside the stability bound $2/\eta(t)$; saved to ``out_dir/stiffness.csv``."""

    def __init__(
        self,
        problem,
        sizes,
        every: int,
        *,
        total_steps: int,
        learning_rate: Callable[[int], float],
        num_iters: int = 20,
        per_term: bool = False,
        seed: int = 0,
        out_dir=None,
    ):
        super().__init__(problem, sizes, seed)
        self.per_term = per_term
        if every < 1:
            raise ValueError(f"`every` must be >= 1, got {every}.")
        self.every = int(every)
        self.total_steps = int(total_steps)
        self.learning_rate = learning_rate
        self.num_iters = int(num_iters)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.rows: list[dict[str, float]] = []
        self._fn = None

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def next_due(self, done: int) -> int | None:
        nxt = (done // self.every + 1) * self.every
        return nxt if nxt <= self.total_steps else None

    def __call__(self, step: int, state, static, kernels=None) -> None:
        if not self.due(step):
            return
        if self._fn is None:
            problem, sizes, iters = self.problem, self.sizes, self.num_iters

            per_term = self.per_term

            @jax.jit
            def fn(params, key, weights):
                k_pts, k_lz = jax.random.split(key)
                pts = sample_points(problem, k_pts, sizes)
                net = eqx.combine(params, static)
                out = {
                    "sigma_max": loss_max_eigenvalue(problem, net, pts, weights, num_iters=iters, key=k_lz)
                }
                if per_term:
                    zero = {g: 0.0 for g in problem.groups}
                    out["sigma_max_residual"] = loss_max_eigenvalue(
                        problem, net, pts, zero, num_iters=iters, key=k_lz
                    )
                    for g in problem.groups:
                        out[f"sigma_max_{g}"] = loss_max_eigenvalue(
                            problem,
                            net,
                            pts,
                            {**zero, g: weights[g]},
                            residual=False,
                            num_iters=iters,
                            key=k_lz,
                        )
                return out

            self._fn = fn
        sig = self._fn(state.params, self.step_key(step), state.balancer_state.weights)
        lr = float(self.learning_rate(step))
        self.rows.append(
            {
                "step": step,
                **{k: float(v) for k, v in sig.items()},
                "learning_rate": lr,
                "stability_bound": 2.0 / lr,
            }
        )

    def finish(self) -> None:
        if self.out_dir is None or not self.rows:
            return
        with (self.out_dir / "stiffness.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.rows[0]))
            w.writeheader()
            w.writerows(self.rows)


def recorders_for(config, problem: Problem, out_dir) -> list[_Recorder]:
    """The recorders a `RunConfig` asks for (histograms at ``hist_steps``, stiffness
    every ``stiffness_every`` steps)."""
    sizes = batch_sizes(problem, config.batch_size)
    recs: list[_Recorder] = []
    hist_steps = [s for s in config.hist_steps if 0 <= s <= config.steps]
    if hist_steps:
        recs.append(
            HistogramRecorder(
                problem, sizes, hist_steps, bins=config.hist_bins, seed=config.seed, out_dir=out_dir
            )
        )
    if config.stiffness_every:
        lr0, rate, T = config.learning_rate, config.decay_rate, config.decay_steps
        recs.append(
            StiffnessRecorder(
                problem,
                sizes,
                config.stiffness_every,
                total_steps=config.steps,
                learning_rate=lambda t: lr0 * rate ** (t / T),
                num_iters=config.stiffness_iters,
                per_term=config.stiffness_terms,
                seed=config.seed,
                out_dir=out_dir,
            )
        )
    return recs
