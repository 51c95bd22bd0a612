r"""Diagnostics recorded during training, as callbacks of `pinnsight.fit`.

`HistogramRecorder` (per-layer gradient histograms at chosen steps) and
`StiffnessRecorder` ($\sigma_{\max}$ of the loss Hessian every few steps) and `NTKRecorder`
(top eigenvalues and traces of each term's NTK block at chosen steps) run between
compiled chunks. Their points come from keys of their own (histograms reuse the probe
gradients `fit` already computes for the logged scalars), so recording never changes the
training trajectory. With an ``out_dir`` they write ``histograms.npz`` / ``stiffness.csv`` /
``ntk.npz`` at the end of the run.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from ..callbacks import Callback, FitContext
from ..losses import RESIDUAL, sample_points, term_gradients
from .hessian import loss_max_eigenvalue
from .ntk import ntk_spectrum
from .stats import gradient_summary, layer_histograms

__all__ = ["HistogramRecorder", "StiffnessRecorder", "NTKRecorder", "DEFAULT_HIST_STEPS"]

DEFAULT_HIST_STEPS = (0, 10_000, 20_000, 30_000, 40_000)

_DIAG_SALT = 0x5EED


class _Recorder(Callback):
    """Base: due steps, a diagnostics key independent of training, record at start and per chunk."""

    def __init__(self, seed: int, out_dir=None):
        self.key = jax.random.fold_in(jax.random.PRNGKey(seed), _DIAG_SALT)
        self.out_dir = Path(out_dir) if out_dir is not None else None

    def due(self, step: int) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def step_key(self, step: int) -> jax.Array:
        return jax.random.fold_in(self.key, step)

    def record(self, ctx: FitContext) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def save(self) -> None:
        """Write the records so far (subclasses with a file; rewritten after each record, so a
        killed run keeps them)."""

    def restore(self, step: int) -> None:
        """Resuming at ``step``: take back the records of the earlier steps from the file."""

    def on_start(self, ctx: FitContext) -> None:
        if ctx.done > 0 and self.out_dir is not None:
            self.restore(ctx.done)
        if self.due(ctx.done):
            self.record(ctx)
            self.save()

    def on_chunk(self, ctx: FitContext, row) -> None:
        if self.due(ctx.done):
            self.record(ctx)
            self.save()


class HistogramRecorder(_Recorder):
    r"""Histograms of $\nabla_W\mathcal{L}_r$, $\nabla_W\mathcal{L}_g$ and
    $\nabla_W(\lambda_g\mathcal{L}_g)$ per kernel $W$ at chosen steps.

    Saved to ``out_dir/histograms.npz`` with arrays ``steps`` (S,), ``terms``,
    ``<term>/counts`` (S, L, B), ``<term>/edges`` (S, L, B+1), ``<term>/log_counts``
    (S, L, B), ``<term>/zero_counts`` (S, L) (exact zeros, in no log bin), ``log_edges``
    (S, B+1) (the $\log_{10}|g|$ range of each step follows its data, see
    `layer_histograms`) and the `gradient_summary` scalars of the same points as
    ``summary/<name>`` (S,). Files written before the per-step range have ``log_edges``
    (B+1,) and no ``zero_counts``; `pinnsight.report.plot_histograms` reads both.
    """

    def __init__(self, steps: Sequence[int], *, bins: int = 60, seed: int = 0, out_dir=None):
        super().__init__(seed, out_dir)
        self.steps = sorted(set(int(s) for s in steps))
        self.bins = int(bins)
        self.records: list[tuple[int, dict]] = []
        self.summaries: list[dict[str, float]] = []
        self._fn = None

    def due(self, step: int) -> bool:
        return step in self.steps

    def next_due(self, done: int) -> int | None:
        later = [s for s in self.steps if s > done]
        return later[0] if later else None

    def _compile(self, groups):
        bins = self.bins

        @jax.jit
        def fn(kernels, weights):
            summary = gradient_summary(kernels, groups)
            ks = dict(kernels)
            for g in groups:
                ks[f"{g}_weighted"] = [weights[g] * k for k in kernels[g]]
            return layer_histograms(ks, bins), summary

        return fn

    def record(self, ctx: FitContext) -> None:
        """Record at a due step from the probe gradients `fit` computed (or fresh ones)."""
        kernels = ctx.probe
        if kernels is None:
            _, grads = term_gradients(
                ctx.problem, ctx.static, ctx.state.params, self.step_key(ctx.done), ctx.sizes
            )
            kernels = {name: g.main_kernels() for name, g in grads.items()}
        if self._fn is None:
            self._fn = self._compile(ctx.problem.groups)
        weights = {g: w for g, w in ctx.state.balancer_state.weights.items() if g != RESIDUAL}
        hist, summary = self._fn(kernels, weights)
        self.records.append((ctx.done, jax.tree_util.tree_map(np.asarray, hist)))
        self.summaries.append({k: float(v) for k, v in summary.items()})

    def as_arrays(self) -> dict[str, np.ndarray]:
        if not self.records:
            return {}
        terms = list(self.records[0][1])
        data: dict[str, np.ndarray] = {
            "steps": np.array([s for s, _ in self.records]),
            "terms": np.array(terms),
            "log_edges": np.stack([r[terms[0]]["log_edges"] for _, r in self.records]),
        }
        for t in terms:
            for field in ("counts", "edges", "log_counts", "zero_counts"):
                data[f"{t}/{field}"] = np.stack([r[t][field] for _, r in self.records])
        for k in self.summaries[0]:
            data[f"summary/{k}"] = np.array([s[k] for s in self.summaries])
        return data

    def save(self) -> None:
        if self.out_dir is not None and self.records:
            tmp = self.out_dir / "histograms.tmp.npz"
            np.savez_compressed(tmp, **self.as_arrays())
            os.replace(tmp, self.out_dir / "histograms.npz")

    def restore(self, step: int) -> None:
        from ..experiments.run_folder import load_histograms

        data = load_histograms(self.out_dir)
        if data is None:
            return
        terms = [str(t) for t in data["terms"]]
        fields = ("counts", "edges", "log_counts", "zero_counts")
        for i, s in enumerate(data["steps"]):
            if int(s) >= step:
                break
            rec = {
                t: {**{f: data[f"{t}/{f}"][i] for f in fields}, "log_edges": data["log_edges"][i]}
                for t in terms
            }
            self.records.append((int(s), rec))
            names = [k[len("summary/") :] for k in data if k.startswith("summary/")]
            self.summaries.append({k: float(data[f"summary/{k}"][i]) for k in names})

    def on_end(self, ctx: FitContext, summary) -> None:
        self.save()


class StiffnessRecorder(_Recorder):
    r"""$\sigma_{\max}(\nabla^2_\theta\mathcal{L})$ every ``every`` steps (step 0 included),
    beside the stability bound $2/\eta(t)$; saved to ``out_dir/stiffness.csv``."""

    def __init__(
        self,
        every: int,
        *,
        total_steps: int,
        learning_rate: Callable[[int], float],
        num_iters: int = 20,
        per_term: bool = False,
        seed: int = 0,
        out_dir=None,
    ):
        super().__init__(seed, out_dir)
        if every < 1:
            raise ValueError(f"`every` must be >= 1, got {every}.")
        self.every, self.total_steps, self.num_iters = int(every), int(total_steps), int(num_iters)
        self.learning_rate = learning_rate
        self.per_term = per_term
        self.rows: list[dict[str, float]] = []
        self._fn = None

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def next_due(self, done: int) -> int | None:
        nxt = (done // self.every + 1) * self.every
        return nxt if nxt <= self.total_steps else None

    def _compile(self, problem, static, sizes):
        iters, per_term = self.num_iters, self.per_term

        @jax.jit
        def fn(params, key, weights):
            k_pts, k_lz = jax.random.split(key)
            pts = sample_points(problem, k_pts, sizes)
            net = eqx.combine(params, static)

            def sigma(w, residual=True):
                return loss_max_eigenvalue(problem, net, pts, w, residual=residual, num_iters=iters, key=k_lz)

            out = {"sigma_max": sigma(weights)}
            if per_term:
                zero = {g: 0.0 for g in problem.groups}
                out["sigma_max_residual"] = sigma(zero)
                for g in problem.groups:
                    out[f"sigma_max_{g}"] = sigma({**zero, g: weights[g]}, residual=False)
            return out

        return fn

    def record(self, ctx: FitContext) -> None:
        if self._fn is None:
            self._fn = self._compile(ctx.problem, ctx.static, ctx.sizes)
        sig = self._fn(ctx.state.params, self.step_key(ctx.done), ctx.state.balancer_state.weights)
        lr = float(self.learning_rate(ctx.done))
        self.rows.append(
            {
                "step": ctx.done,
                **{k: float(v) for k, v in sig.items()},
                "learning_rate": lr,
                "stability_bound": 2.0 / lr,
            }
        )

    def save(self) -> None:
        if self.out_dir is None or not self.rows:
            return
        tmp = self.out_dir / "stiffness.csv.tmp"
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.rows[0]))
            w.writeheader()
            w.writerows(self.rows)
        os.replace(tmp, self.out_dir / "stiffness.csv")

    def restore(self, step: int) -> None:
        from ..experiments.run_folder import read_stiffness

        data = read_stiffness(self.out_dir)
        if data is None:
            return
        for i, s in enumerate(data["step"]):
            if s >= step:
                break
            self.rows.append({k: int(v[i]) if k == "step" else v[i] for k, v in data.items()})

    def on_end(self, ctx: FitContext, summary) -> None:
        self.save()


class NTKRecorder(_Recorder):
    r"""Top eigenvalues and trace of each term's NTK block $K = JJ^\top$ at chosen steps.

    On fresh points of the run's batch sizes (from the recorder's own key), by Lanczos on
    $Kv = J(J^\top v)$ (`pinnsight.diagnostics.ntk.ntk_spectrum`). ``records`` holds
    ``(step, {term: NTKSpectrum})``; with ``out_dir``, ``ntk.npz`` gets ``steps`` (S,),
    ``terms``, ``<term>/eigenvalues`` (S, k), ``<term>/trace`` (S,) and ``<term>/size``.
    """

    def __init__(self, steps: Sequence[int], *, num_iters: int = 40, seed: int = 0, out_dir=None):
        super().__init__(seed, out_dir)
        self.steps = sorted(set(int(s) for s in steps))
        self.num_iters = int(num_iters)
        if self.num_iters < 1:
            raise ValueError(f"`num_iters` must be >= 1, got {num_iters}.")
        self.records: list[tuple[int, dict]] = []
        self._fn = None

    def due(self, step: int) -> bool:
        return step in self.steps

    def next_due(self, done: int) -> int | None:
        later = [s for s in self.steps if s > done]
        return later[0] if later else None

    def _compile(self, problem, static, sizes):
        iters = self.num_iters

        @jax.jit
        def fn(params, key):
            k_pts, k_lz = jax.random.split(key)
            pts = sample_points(problem, k_pts, sizes)
            spec = ntk_spectrum(problem, eqx.combine(params, static), pts, num_iters=iters, key=k_lz)
            return {t: (s.eigenvalues, s.trace, jax.numpy.asarray(s.size)) for t, s in spec.items()}

        return fn

    def record(self, ctx: FitContext) -> None:
        if self._fn is None:
            self._fn = self._compile(ctx.problem, ctx.static, ctx.sizes)
        out = self._fn(ctx.state.params, self.step_key(ctx.done))
        self.records.append(
            (ctx.done, {t: (np.asarray(e), float(tr), int(n)) for t, (e, tr, n) in out.items()})
        )

    def as_arrays(self) -> dict[str, np.ndarray]:
        if not self.records:
            return {}
        terms = list(self.records[0][1])
        data: dict[str, np.ndarray] = {
            "steps": np.array([s for s, _ in self.records]),
            "terms": np.array(terms),
        }
        for t in terms:
            data[f"{t}/eigenvalues"] = np.stack([r[t][0] for _, r in self.records])
            data[f"{t}/trace"] = np.array([r[t][1] for _, r in self.records])
            data[f"{t}/size"] = np.array(self.records[0][1][t][2])
        return data

    def save(self) -> None:
        if self.out_dir is not None and self.records:
            tmp = self.out_dir / "ntk.tmp.npz"
            np.savez_compressed(tmp, **self.as_arrays())
            tmp.replace(self.out_dir / "ntk.npz")

    def on_end(self, ctx: FitContext, summary) -> None:
        self.save()
