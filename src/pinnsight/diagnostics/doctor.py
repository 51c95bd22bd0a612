r"""The PINN doctor: a short probe training, then what is wrong, how bad, and the cure.

`doctor` trains the PINN for a few thousand steps (the *probe*) with the diagnostics
recorders on, then turns what they measured into findings: each has a ``pathology``, a
``severity`` (``"none"``, ``"mild"``, ``"severe"``), the ``evidence`` (the numbers and the
figure of the doctor's report that shows them) and a ``cure`` (advice and the config keys
that apply it, e.g. ``{"weighting.kind": "annealing"}``). The probe is an ordinary training
run: the recorders draw their own points, so they do not change its trajectory.

**Pathologies and thresholds** (calibrated in docs/RESULTS.md, "The PINN doctor"):

- ``divergence``: **severe** if the loss became NaN/inf (the probe stopped); **mild** if a
  chunk's loss rose above 10x the best loss before it, or a weight $\lambda$ passed 1e4.
  Cure: a 10x smaller learning rate (and ``run.x64=true`` after a NaN).
- ``gradient_imbalance`` (Wang, Teng & Perdikaris 2021, §2): per constraint group $g$ the
  ratio the optimiser sees, $\rho_g = \lambda_r\max|\nabla_\theta\mathcal{L}_r| /
  (\lambda_g\,\overline{|\nabla_\theta\mathcal{L}_g|})$ (the logged ``imbalance_<g>`` times
  $\lambda_r/\lambda_g$), its median over the second half of the probe and its trend
  (factor per 1,000 steps, least squares on $\log\rho_g$). Severity of the worst group:
  **mild if the median ≥ 100, severe if ≥ 1000**. Cure: learning-rate annealing
  (``weighting.kind=annealing``); if a balancer is already on, ``grad_norm``.
- ``stiffness`` (§2.2): $s = \max_t\sigma_{\max}(t)\,\eta(t)/2$ over the probe, with
  $\sigma_{\max}$ the largest eigenvalue of the Hessian of the weighted loss (Lanczos,
  `StiffnessRecorder`) and $\eta(t)$ the learning rate of the schedule; gradient descent is
  stable only for $s < 1$. **mild if s ≥ 3, severe if s ≥ 30**. Cure: the modified MLP
  (``net.kind=modified_mlp``); if it (or a PirateNet) is already on, the preconditioned
  optimiser SOAP (``optim.kind=soap``); if that (or ``adam_lbfgs``) is on too, a 10x smaller
  learning rate.
- ``spectral_bias`` (Wang, Yu & Perdikaris 2022): the NTK blocks at the end of the probe
  (`NTKRecorder`). The ratio of mean NTK diagonals
  $\tau_g = (\mathrm{tr}K_{rr}/n_r)/(\mathrm{tr}K_{gg}/n_g)$ per group: the residual and the
  constraints converge at rates that differ by this factor. Severity of
  $\max(\tau_g, 1/\tau_g)$: **mild if ≥ 100, severe if ≥ 1e4**. The eigen-decay
  $\lambda_1/\lambda_{10}$ of $K_{rr}$ is reported as evidence but sets no severity: in the
  calibration it followed the dimension of the domain (≥ 1e5 in 1D, 5–25 in 2D), not
  whether training failed. Cure: NTK-trace weighting (``weighting.kind=ntk``); Fourier
  features (``net.kind=fourier_mlp``) if the NTK balancer is already on, and nothing more if
  the network has them already (a Fourier MLP or a PirateNet).
- ``error_concentration``: the share of the squared error (and of the squared residual) of
  the final network on the evaluation grid in each region (four slices of $t$ for a domain
  with an axis named ``t``, else four intervals in 1D and the $2^d$ orthants of the box
  otherwise), and in a band of 5% of each extent along the boundary. The concentration is
  the largest share times the number of regions (1: spread evenly). **none whenever the
  relative L2 error is below 1e-2; otherwise mild if the concentration ≥ 2 and severe if
  ≥ 3**. Cure: causal weighting for a time axis (``weighting.kind=causal``), the imbalance
  cure when the boundary band holds 3x its share of the grid, else residual-based
  adaptive sampling (``sampling.kind=rad``).

Each cure is the first rung of its ladder above that the set-up does not have yet; where
every rung is on already the finding keeps its severity, says so in its advice and sets no
key (a cure that named the set-up's own values would change nothing).

The cure of a diagnosis (`Diagnosis.cure`) merges the ``set`` keys of every mild or severe
finding: the severe ones first, then the mild ones, each level in the order above; a key
already set by an earlier finding is kept.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..callbacks import Callback, FitContext, ProgressBar
from ..losses import RESIDUAL
from ..problem import Problem
from ..train import DivergenceError, fit
from .recorders import NTKRecorder, StiffnessRecorder

__all__ = ["doctor", "Diagnosis", "Finding", "THRESHOLDS", "SEVERITIES", "PATHOLOGIES", "DEFAULT_PROBE_STEPS"]

DEFAULT_PROBE_STEPS = 5000
"""Steps of the probe training (the paper's nets: well under 2 minutes on 2 CPU cores)."""

SEVERITIES = ("none", "mild", "severe")
"""Severity levels, mildest first."""

PATHOLOGIES = ("divergence", "gradient_imbalance", "stiffness", "spectral_bias", "error_concentration")
"""The pathologies the doctor looks for, the most important first (the order of cures)."""

THRESHOLDS: dict[str, Any] = {
    "gradient_imbalance": {"mild": 100.0, "severe": 1000.0},
    "stiffness": {"mild": 3.0, "severe": 30.0},
    "spectral_bias": {"mild": 100.0, "severe": 1e4, "decay_index": 10},
    "error_concentration": {"mild": 2.0, "severe": 3.0, "error_floor": 1e-2, "band": 0.05, "boundary": 3.0},
    "divergence": {"spike": 10.0, "lambda": 1e4},
}
"""The thresholds of the module docstring, by pathology (severity = the highest level reached)."""


@dataclass
class Finding:
    """One pathology: how bad, the numbers that say so, and the cure.

    Attributes:
        pathology: one of `PATHOLOGIES`.
        severity: ``"none"``, ``"mild"`` or ``"severe"``.
        evidence: numbers (and ``"figure"``: the file of the doctor's report that shows them).
        cure: ``{"advice": str, "set": {config key: value}}`` (empty ``set`` if nothing to do).
        message: one sentence for people.
    """

    pathology: str
    severity: str
    evidence: dict[str, Any]
    cure: dict[str, Any]
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "pathology": self.pathology,
            "severity": self.severity,
            "evidence": _jsonable(self.evidence),
            "cure": _jsonable(self.cure),
            "message": self.message,
        }


@dataclass
class Diagnosis:
    """What `doctor` found (``to_dict()`` / ``to_json()`` give the ``--json`` object).

    Attributes:
        problem: the problem's name.
        steps: steps the probe trained (fewer if it diverged).
        findings: one `Finding` per pathology, in the order of `PATHOLOGIES`.
        imbalance: per group the steps, raw and effective ratios, median and trend.
        stiffness: steps, $\\sigma_{\\max}$, learning rate, $2/\\eta$ and the ratio ``s``.
        ntk: steps and per term the top eigenvalues, traces and sizes of its NTK block.
        concentration: regions with their shares of squared error and residual.
        summary: the probe's `pinnsight.FitResult.summary` (``final_error`` ...).
        timings: seconds of the probe's training, of the diagnostics, and in all.
        setup: the config keys the cures were chosen against (``net.kind`` ...).
        history: the probe's logged history (not in ``to_dict``).
        net: the network at the end of the probe (not in ``to_dict``).
        fields: squared error and residual of the final network on the evaluation grid
            (not in ``to_dict``).
        problem_object: the `Problem` itself (not in ``to_dict``).
    """

    problem: str
    steps: int
    findings: list[Finding]
    imbalance: dict[str, Any]
    stiffness: dict[str, Any]
    ntk: dict[str, Any]
    concentration: dict[str, Any]
    summary: dict[str, Any]
    timings: dict[str, float]
    setup: dict[str, Any] = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    net: Any = field(default=None, repr=False)
    fields: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    problem_object: Any = field(default=None, repr=False)

    def finding(self, pathology: str) -> Finding:
        """The finding of ``pathology``."""
        for f in self.findings:
            if f.pathology == pathology:
                return f
        raise KeyError(pathology)

    def severity(self, pathology: str) -> str:
        """``"none"``, ``"mild"`` or ``"severe"`` for ``pathology``."""
        return self.finding(pathology).severity

    @property
    def worst(self) -> str:
        """The highest severity of all findings."""
        return max((f.severity for f in self.findings), key=SEVERITIES.index, default="none")

    def cure(self) -> dict[str, Any]:
        """The merged config keys of the cure (module docstring); ``{}`` if all is well."""
        out: dict[str, Any] = {}
        order = sorted(
            (f for f in self.findings if f.severity != "none"),
            key=lambda f: (-SEVERITIES.index(f.severity), PATHOLOGIES.index(f.pathology)),
        )
        for f in order:
            for k, v in f.cure.get("set", {}).items():
                out.setdefault(k, v)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``findings`` (list of ``{pathology, severity, evidence, cure, message}``),
        ``imbalance``, ``stiffness``, ``ntk``, ``concentration``, ``cure``, ``summary``, ``timings``,
        ``thresholds``."""
        return _jsonable(
            {
                "problem": self.problem,
                "steps": self.steps,
                "worst": self.worst,
                "findings": [f.to_dict() for f in self.findings],
                "cure": self.cure(),
                "imbalance": self.imbalance,
                "stiffness": self.stiffness,
                "ntk": self.ntk,
                "concentration": self.concentration,
                "summary": self.summary,
                "timings": self.timings,
                "setup": self.setup,
                "thresholds": THRESHOLDS,
            }
        )

    def to_json(self, **kw) -> str:
        """``to_dict()`` as JSON text (NaN/inf written as null)."""
        return json.dumps(self.to_dict(), **kw)

    def text(self) -> str:
        """The findings as a short table for a terminal."""
        lines = [f"{'pathology':20s} {'severity':8s} finding"]
        for f in self.findings:
            lines.append(f"{f.pathology:20s} {f.severity:8s} {f.message}")
            if f.severity != "none" and f.cure.get("advice"):
                lines.append(f"{'':29s} cure: {f.cure['advice']}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
def doctor(
    problem: Problem,
    net: eqx.Module,
    balancer=None,
    *,
    key: jax.Array,
    steps: int = DEFAULT_PROBE_STEPS,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: Callable[[int], float] | float | None = None,
    sampler=None,
    batch_size: int | Mapping[str, int] = 128,
    chunk_size: int | None = None,
    fixed_from: int | None = None,
    setup: Mapping[str, Any] | None = None,
    stiffness_every: int | None = None,
    ntk_steps: Sequence[int] | None = None,
    ntk_iters: int = 40,
    seed: int = 0,
    progress: bool = False,
) -> Diagnosis:
    r"""Train a short probe of this PINN and diagnose it (module docstring for the thresholds).

    **Main arguments** (as `pinnsight.fit`): ``problem``, ``net``, ``balancer`` (default
    fixed weights), ``key``, ``steps`` (the probe's length, default 5,000).

    **Other arguments:**

    - ``optimizer``: default `pinnsight.paper_optimizer` (Adam, $10^{-3}\cdot 0.9^{t/1000}$);
    - ``learning_rate``: $\eta(t)$ for the stiffness bound $2/\eta$ (a schedule or a number);
      default the paper's schedule when ``optimizer`` is None, else unknown (no stiffness finding);
    - ``sampler``, ``batch_size``, ``fixed_from``: as in `pinnsight.fit`;
    - ``chunk_size``: steps per logged row (default ``steps // 20``);
    - ``setup``: the config keys in effect (``{"net.kind": "mlp", "weighting.kind": "fixed",
      "optim.learning_rate": 1e-3}``), so cures name what to change; guessed from ``net``'s
      class and the logged $\lambda$ when not given;
    - ``stiffness_every``: steps between $\sigma_{\max}$ (default two chunks);
    - ``ntk_steps``: steps of the NTK spectra (default: 0, the chunk boundary nearest the middle, the end);
      ``ntk_iters``: Lanczos steps per term;
    - ``seed``: seed of the diagnostics' own points; ``progress``: a progress bar.

    Returns:
        A `Diagnosis`; ``diagnosis.findings``, ``diagnosis.cure()``, ``diagnosis.to_json()``.

    Example:
        ```python
        d = ps.doctor(problem, net, key=jax.random.PRNGKey(1), steps=3000)
        print(d.text())
        d.severity("gradient_imbalance"), d.cure()   # ('severe', {'weighting.kind': 'annealing'})
        ```
    """
    t0 = time.perf_counter()
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"the probe needs at least 2 steps, got steps = {steps}.")
    lr_fn = _learning_rate(learning_rate, optimizer)
    chunk, recorders = _probe_recorders(steps, chunk_size, stiffness_every, ntk_steps, ntk_iters, lr_fn, seed)
    probe = _run_probe(
        problem,
        net,
        balancer,
        recorders,
        progress,
        steps=steps,
        key=key,
        optimizer=optimizer,
        sampler=sampler,
        batch_size=batch_size,
        chunk_size=chunk,
        fixed_from=fixed_from,
    )
    setup = _setup_of(setup, net, probe.history, lr_fn)
    measured = _measure(problem, probe)
    findings = _findings(problem, probe, measured, setup, known_lr=lr_fn is not None)
    return _diagnosis(problem, probe, measured, findings, setup, total=time.perf_counter() - t0)


@dataclass
class _Probe:
    """What the probe training left behind, whether it finished or diverged."""

    status: str
    """``"finished"`` or ``"diverged"``."""
    error: str | None
    """The `DivergenceError`'s message, if it diverged."""
    summary: dict[str, Any]
    """`pinnsight.FitResult.summary` (after a divergence: the one the callbacks saw)."""
    history: dict[str, np.ndarray]
    """The logged rows, one float array per column."""
    net: Any
    """The network at the end (the last good one after a divergence)."""
    stiffness_rows: list[dict[str, float]]
    """`StiffnessRecorder.rows`."""
    ntk_records: list
    """`NTKRecorder.records`."""


class _Measured(NamedTuple):
    """The measurements the findings are drawn from (`_measure`)."""

    imbalance: dict[str, Any]
    stiffness: dict[str, Any]
    ntk: dict[str, Any]
    concentration: dict[str, Any]


def _probe_recorders(
    steps: int,
    chunk_size: int | None,
    stiffness_every: int | None,
    ntk_steps: Sequence[int] | None,
    ntk_iters: int,
    lr_fn: Callable[[int], float] | None,
    seed: int,
) -> tuple[int, tuple[StiffnessRecorder, NTKRecorder]]:
    r"""The probe's chunk length and its two recorders.

    One chunk length where possible (each length compiles the training loop once more):
    ``chunk_size`` or ``steps // 20``; the recorders' steps are multiples of it —
    $\sigma_{\max}$ every ``stiffness_every`` steps (default two chunks), the NTK at
    ``ntk_steps`` (default 0, the chunk boundary nearest the middle, and the end). Without a
    known learning rate the stiffness ratio is NaN (no finding)."""
    chunk = int(chunk_size) if chunk_size else max(steps // 20, 1)
    every = int(stiffness_every) if stiffness_every else 2 * chunk
    mid = (steps // 2) // chunk * chunk
    ntk_at = sorted({0, mid, steps} if ntk_steps is None else {int(s) for s in ntk_steps})
    stiff = StiffnessRecorder(
        every,
        total_steps=steps,
        learning_rate=lr_fn or (lambda t: float("nan")),
        seed=seed,
    )
    return chunk, (stiff, NTKRecorder(ntk_at, num_iters=ntk_iters, seed=seed))


def _run_probe(
    problem: Problem,
    net: eqx.Module,
    balancer,
    recorders: tuple[StiffnessRecorder, NTKRecorder],
    progress: bool,
    **fit_kwargs: Any,
) -> _Probe:
    """Train the probe with `pinnsight.fit` (``fit_kwargs``: steps, key, optimizer, ...) and
    the recorders on; a divergence is caught and recorded, not raised."""
    stiff, ntk_rec = recorders
    rows = _Rows()
    callbacks = [ProgressBar(desc=f"doctor {problem.name}", disable=not progress), stiff, ntk_rec, rows]
    status, error = "finished", None
    try:
        summary = fit(problem, net, balancer, callbacks=callbacks, **fit_kwargs).summary
    except DivergenceError as err:
        status, error = "diverged", str(err)
        summary = rows.summary
    history = {k: np.asarray(v, dtype=float) for k, v in rows.history.items()}
    return _Probe(status, error, summary, history, rows.net, stiff.rows, ntk_rec.records)


def _setup_of(
    setup: Mapping[str, Any] | None, net, history, lr_fn: Callable[[int], float] | None
) -> dict[str, Any]:
    r"""The config keys the cures are chosen against: ``setup`` as given, else guessed from the
    network's class and the logged $\lambda$ (`_guess_setup`); with a known learning rate,
    ``optim.learning_rate`` (its value at step 0) unless already set."""
    setup = dict(setup) if setup is not None else _guess_setup(net, history)
    if lr_fn is not None and "optim.learning_rate" not in setup:
        setup["optim.learning_rate"] = float(lr_fn(0))
    return setup


def _measure(problem: Problem, probe: _Probe) -> _Measured:
    """Gradient imbalance, stiffness and NTK from the probe's records, and the error
    concentration of its final network on the evaluation grid."""
    return _Measured(
        imbalance=_imbalance(problem, probe.history),
        stiffness=_stiffness(probe.stiffness_rows),
        ntk=_ntk(probe.ntk_records, problem),
        concentration=_concentration(problem, probe.net),
    )


def _findings(
    problem: Problem, probe: _Probe, measured: _Measured, setup: dict[str, Any], *, known_lr: bool
) -> list[Finding]:
    """One `Finding` per pathology, in the order of `PATHOLOGIES`."""
    return [
        _divergence_finding(probe.status, probe.error, probe.history, setup),
        _imbalance_finding(measured.imbalance, setup),
        _stiffness_finding(measured.stiffness, setup, known_lr),
        _spectral_finding(measured.ntk, setup),
        _concentration_finding(measured.concentration, probe.summary, setup, problem),
    ]


def _diagnosis(
    problem: Problem,
    probe: _Probe,
    measured: _Measured,
    findings: list[Finding],
    setup: dict[str, Any],
    *,
    total: float,
) -> Diagnosis:
    """The `Diagnosis`: the probe's summary with its ``status`` (and ``final_lambda``, ``{}``
    if none) and the timings (``total`` seconds in all, of which the probe's compiled training
    steps, the rest counted as diagnostics)."""
    t_train = float(probe.summary.get("train_time_s") or 0.0)
    summary = {k: v for k, v in probe.summary.items() if k not in ("final_lambda",)} | {
        "final_lambda": probe.summary.get("final_lambda", {}),
        "status": probe.status,
    }
    concentration = measured.concentration
    return Diagnosis(
        problem=problem.name,
        steps=int(summary.get("steps", 0)),
        findings=findings,
        imbalance=measured.imbalance,
        stiffness=measured.stiffness,
        ntk=measured.ntk,
        concentration=concentration,
        summary=summary,
        timings={"probe_train_s": t_train, "diagnostics_s": total - t_train, "total_s": total},
        setup=setup,
        history=probe.history,
        net=probe.net,
        fields=concentration.pop("_fields"),
        problem_object=problem,
    )


class _Rows(Callback):
    """Keeps the history rows, the last network and a summary, even if training diverges."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.net = None
        self.summary: dict[str, Any] = {}

    def on_start(self, ctx: FitContext) -> None:
        self.net = ctx.net

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        for k, v in row.items():
            self.history.setdefault(k, []).append(v)
        self.net = ctx.net

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        self.net = ctx.net
        self.summary = dict(summary)


def _learning_rate(learning_rate, optimizer) -> Callable[[int], float] | None:
    from ..optim import paper_schedule

    if learning_rate is None:
        if optimizer is not None:
            return None
        schedule = paper_schedule()
        return lambda t: float(schedule(t))
    if callable(learning_rate):
        return lambda t: float(learning_rate(t))
    value = float(learning_rate)
    return lambda t: value


def _guess_setup(net, history) -> dict[str, Any]:
    from ..nets import NETWORKS

    kind = next((k for k, cls in NETWORKS.items() if isinstance(cls, type) and type(net) is cls), "unknown")
    moved = any(k.startswith("lambda_") and np.any(np.abs(v - 1.0) > 1e-12) for k, v in history.items())
    return {"net.kind": kind, "weighting.kind": "adaptive" if moved else "fixed"}


# -- measurements ------------------------------------------------------------------------
def _trend_per_1000(steps: np.ndarray, values: np.ndarray) -> float:
    """Factor by which ``values`` grow per 1,000 steps (least squares on their log)."""
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < 2 or np.ptp(steps[ok]) == 0:
        return float("nan")
    slope = np.polyfit(steps[ok], np.log(values[ok]), 1)[0]
    return float(np.exp(1000.0 * slope))


def _imbalance(problem: Problem, history) -> dict[str, Any]:
    steps = history.get("step", np.zeros(0))
    lam_r = history.get(f"lambda_{RESIDUAL}", np.ones_like(steps))
    out: dict[str, Any] = {"groups": {}}
    for g in problem.groups:
        raw = history.get(f"imbalance_{g}")
        if raw is None or raw.size == 0:
            continue
        lam = history.get(f"lambda_{g}", np.ones_like(raw))
        eff = raw * lam_r / np.where(lam > 0, lam, np.nan)
        half = steps >= steps[-1] / 2
        out["groups"][g] = {
            "steps": steps,
            "ratio": raw,
            "lambda": lam,
            "effective": eff,
            "median": float(np.nanmedian(eff[half])),
            "final": float(eff[-1]),
            "trend_per_1000": _trend_per_1000(steps, eff),
        }
    worst = max(out["groups"], key=lambda g: out["groups"][g]["median"], default=None)
    out["worst_group"] = worst
    out["figure"] = "imbalance.png"
    return out


def _stiffness(rows: Sequence[dict[str, float]]) -> dict[str, Any]:
    if not rows:
        return {"steps": [], "sigma_max": [], "ratio": float("nan"), "figure": "stiffness.png"}
    steps = np.array([r["step"] for r in rows], float)
    sigma = np.array([r["sigma_max"] for r in rows], float)
    lr = np.array([r["learning_rate"] for r in rows], float)
    ratio = sigma * lr / 2.0
    i = int(np.nanargmax(ratio)) if np.any(np.isfinite(ratio)) else int(np.nanargmax(sigma))
    return {
        "steps": steps,
        "sigma_max": sigma,
        "learning_rate": lr,
        "stability_bound": 2.0 / lr,
        "ratio_series": ratio,
        "ratio": float(ratio[i]),
        "at_step": int(steps[i]),
        "sigma_at": float(sigma[i]),
        "bound_at": float(2.0 / lr[i]),
        "growth": float(sigma[-1] / sigma[0]) if sigma[0] > 0 else float("nan"),
        "figure": "stiffness.png",
    }


def _ntk(records, problem: Problem) -> dict[str, Any]:
    out: dict[str, Any] = {"steps": [s for s, _ in records], "terms": {}, "figure": "ntk.png"}
    if not records:
        return out
    for t in (RESIDUAL, *problem.groups):
        out["terms"][t] = {
            "eigenvalues": [np.asarray(r[t][0]) for _, r in records],
            "trace": [r[t][1] for _, r in records],
            "size": records[0][1][t][2],
            "mean_diagonal": [r[t][1] / r[t][2] for _, r in records],
        }
    k = int(THRESHOLDS["spectral_bias"]["decay_index"])
    eig = np.asarray(out["terms"][RESIDUAL]["eigenvalues"][-1], float)
    lam_k = eig[k - 1] if eig.size >= k else float("nan")
    out["decay"] = float(eig[0] / lam_k) if lam_k > 0 else float("inf")
    res_diag = out["terms"][RESIDUAL]["mean_diagonal"][-1]
    out["trace_ratio"] = {g: res_diag / out["terms"][g]["mean_diagonal"][-1] for g in problem.groups}
    return out


def _regions(problem: Problem, pts: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Region index per point, region labels, and the boundary-band mask."""
    dom = problem.domain
    lo, hi = np.asarray(dom.lo, float), np.asarray(dom.hi, float)
    names = list(dom.names)
    u = (pts - lo) / np.where(hi > lo, hi - lo, 1.0)
    if "t" in names:
        a = names.index("t")
        idx = np.clip((u[:, a] * 4).astype(int), 0, 3)
        edges = np.linspace(lo[a], hi[a], 5)
        labels = [f"t in [{edges[i]:.3g}, {edges[i + 1]:.3g}]" for i in range(4)]
    elif dom.dim == 1:
        idx = np.clip((u[:, 0] * 4).astype(int), 0, 3)
        edges = np.linspace(lo[0], hi[0], 5)
        labels = [f"{names[0]} in [{edges[i]:.3g}, {edges[i + 1]:.3g}]" for i in range(4)]
    else:
        bits = (u >= 0.5).astype(int)
        idx = sum(bits[:, a] << a for a in range(dom.dim))
        mids = (lo + hi) / 2
        labels = []
        for r in range(2**dom.dim):
            parts = [f"{names[a]} {'>=' if (r >> a) & 1 else '<'} {mids[a]:.3g}" for a in range(dom.dim)]
            labels.append(", ".join(parts))
    band_w = THRESHOLDS["error_concentration"]["band"]
    band = np.zeros(len(pts), bool)
    for a, name in enumerate(names):
        if name == "t":
            band |= u[:, a] <= band_w  # the initial condition's face
        else:
            band |= (u[:, a] <= band_w) | (u[:, a] >= 1 - band_w)
    return idx, labels, band


def _concentration(problem: Problem, net) -> dict[str, Any]:
    ref = problem.reference_data
    pts = jnp.asarray(ref.points, dtype=jnp.result_type(float))
    fn = jax.jit(lambda p: (problem.observe(net, p), problem.residuals(net, p)))
    pred, res = (np.asarray(a, float) for a in fn(pts))
    err2 = np.sum((pred - np.asarray(ref.values, float)) ** 2, axis=-1)
    res2 = np.sum(res**2, axis=-1)
    idx, labels, band = _regions(problem, np.asarray(ref.points, float))
    n = len(labels)

    def shares(q):
        total = np.sum(q)
        if not np.isfinite(total) or total <= 0:
            return [float("nan")] * n
        return [float(np.sum(q[idx == r]) / total) for r in range(n)]

    es, rs = shares(err2), shares(res2)
    worst = int(np.nanargmax(es)) if np.any(np.isfinite(es)) else 0
    band_area = float(np.mean(band))
    band_err = float(np.sum(err2[band]) / np.sum(err2)) if np.sum(err2) > 0 else float("nan")
    band_res = float(np.sum(res2[band]) / np.sum(res2)) if np.sum(res2) > 0 else float("nan")
    return {
        "regions": labels,
        "error_share": es,
        "residual_share": rs,
        "worst_region": labels[worst],
        "concentration": float(np.nanmax(es) * n) if np.any(np.isfinite(es)) else float("nan"),
        "residual_concentration": float(np.nanmax(rs) * n) if np.any(np.isfinite(rs)) else float("nan"),
        "boundary_band_area": band_area,
        "boundary_band_error_share": band_err,
        "boundary_band_residual_share": band_res,
        "boundary_enrichment": band_err / band_area if band_area > 0 else float("nan"),
        "figure": "concentration.png",
        "_fields": {"error2": err2, "residual2": res2},
    }


# -- findings ----------------------------------------------------------------------------
def _level(value: float, mild: float, severe: float) -> str:
    if not np.isfinite(value):
        return "none"
    return "severe" if value >= severe else "mild" if value >= mild else "none"


def _fmt(v: float) -> str:
    return f"{v:.3g}" if np.isfinite(v) else str(v)


class _Rung(NamedTuple):
    """One cure of a pathology's ladder: its advice, the keys that apply it, and when the
    set-up already has it (``taken(setup)``), so the doctor goes on to the next rung."""

    advice: str
    keys: dict[str, Any]
    taken: Callable[[Mapping[str, Any]], bool]


def _is(key: str, *values: Any) -> Callable[[Mapping[str, Any]], bool]:
    return lambda setup: setup.get(key) in values


def _next_rung(ladder: Sequence[_Rung], setup: Mapping[str, Any]) -> dict[str, Any]:
    """The cure of the first rung ``setup`` does not have yet; past the last one no keys and
    advice that says what is already on (a cure that names the set-up's own values, or swaps
    a PirateNet for the modified MLP it extends, would change nothing or step back)."""
    for rung in ladder:
        if not rung.taken(setup):
            return {"advice": rung.advice, "set": dict(rung.keys)}
    keys = dict.fromkeys(k for rung in ladder for k in rung.keys if k in setup)
    on = ", ".join(f"{k}={setup[k]}" for k in keys)
    return {"advice": f"every cure of the doctor's ladder is on already ({on})", "set": {}}


_BALANCING = (
    _Rung(
        "learning-rate annealing of the loss weights (Wang, Teng & Perdikaris 2021, Alg. 1)",
        {"weighting.kind": "annealing"},
        lambda setup: setup.get("weighting.kind", "fixed") != "fixed",
    ),
    _Rung(
        "gradient-norm balancing of every term",
        {"weighting.kind": "grad_norm"},
        _is("weighting.kind", "grad_norm"),
    ),
)
"""Gradient imbalance (and error on the boundary): any balancer, then grad-norm weights."""


def _divergence_finding(status, error, history, setup) -> Finding:
    th = THRESHOLDS["divergence"]
    loss = history.get("loss", np.zeros(0))
    spike = 1.0
    for i in range(1, loss.size):
        best = np.min(loss[:i])
        if best > 0 and np.isfinite(loss[i]):
            spike = max(spike, float(loss[i] / best))
    lam_max = max(
        (float(np.nanmax(v)) for k, v in history.items() if k.startswith("lambda_") and v.size),
        default=1.0,
    )
    lr0 = setup.get("optim.learning_rate")
    smaller = {"optim.learning_rate": lr0 / 10} if isinstance(lr0, int | float) else {}
    ev = {"status": status, "loss_spike": spike, "max_lambda": lam_max, "figure": "training.png"}
    if status == "diverged":
        return Finding(
            "divergence",
            "severe",
            ev | {"error": error},
            {"advice": "a 10x smaller learning rate and float64", "set": smaller | {"run.x64": True}},
            "the loss became NaN/inf during the probe.",
        )
    sev = "mild" if spike >= th["spike"] or lam_max >= th["lambda"] else "none"
    msg = f"largest loss rise {_fmt(spike)}x the best loss before it; largest λ {_fmt(lam_max)}."
    return Finding("divergence", sev, ev, {"advice": "a 10x smaller learning rate", "set": smaller}, msg)


def _imbalance_finding(imb, setup) -> Finding:
    th = THRESHOLDS["gradient_imbalance"]
    g = imb.get("worst_group")
    if g is None:
        return Finding(
            "gradient_imbalance", "none", {"figure": imb["figure"]}, {"advice": "", "set": {}}, "no groups"
        )
    d = imb["groups"][g]
    sev = _level(d["median"], th["mild"], th["severe"])
    cure = _next_rung(_BALANCING, setup)
    trend = d["trend_per_1000"]
    direction = "growing" if trend > 1.05 else "shrinking" if trend < 0.95 else "steady"
    msg = (
        f"max∣∇L_r∣ / mean∣∇(λL_{g})∣ = {_fmt(d['median'])} (median, second half of the probe), "
        f"{direction} ({_fmt(trend)}x per 1000 steps)."
    )
    ev = {
        "group": g,
        "median": d["median"],
        "final": d["final"],
        "trend_per_1000": trend,
        "per_group": {k: v["median"] for k, v in imb["groups"].items()},
        "figure": imb["figure"],
    }
    return Finding("gradient_imbalance", sev, ev, cure, msg)


def _stiffness_finding(st, setup, known_lr: bool) -> Finding:
    th = THRESHOLDS["stiffness"]
    if not known_lr or not np.isfinite(st.get("ratio", float("nan"))):
        return Finding(
            "stiffness",
            "none",
            {"figure": st["figure"], "note": "learning rate unknown: no bound 2/η"},
            {"advice": "", "set": {}},
            "not assessed (learning rate unknown).",
        )
    sev = _level(st["ratio"], th["mild"], th["severe"])
    lr0 = setup.get("optim.learning_rate")
    cure = _next_rung(
        (
            _Rung(
                "the modified MLP (Wang, Teng & Perdikaris 2021, §3.2)",
                {"net.kind": "modified_mlp"},
                _is("net.kind", "modified_mlp", "pirate"),  # a PirateNet's blocks are gated the same way
            ),
            _Rung(
                "SOAP, a preconditioned optimiser for ill-conditioned losses (optim.kind=soap)",
                {"optim.kind": "soap"},
                _is("optim.kind", "soap", "adam_lbfgs"),
            ),
            _Rung(
                "a 10x smaller learning rate",
                {"optim.learning_rate": lr0 / 10} if isinstance(lr0, int | float) else {},
                lambda setup: False,
            ),
        ),
        setup,
    )
    msg = (
        f"σ_max·η/2 = {_fmt(st['ratio'])} at step {st['at_step']} (σ_max {_fmt(st['sigma_at'])} vs "
        f"2/η {_fmt(st['bound_at'])}); σ_max grew {_fmt(st['growth'])}x in the probe."
    )
    ev = {k: st[k] for k in ("ratio", "at_step", "sigma_at", "bound_at", "growth", "figure")}
    return Finding("stiffness", sev, ev, cure, msg)


def _spectral_finding(ntk, setup) -> Finding:
    th = THRESHOLDS["spectral_bias"]
    if not ntk.get("terms") or not ntk.get("trace_ratio"):
        return Finding(
            "spectral_bias", "none", {"figure": ntk["figure"]}, {"advice": "", "set": {}}, "no NTK"
        )
    decay = ntk["decay"]
    tr = ntk["trace_ratio"]
    g = max(tr, key=lambda k: max(tr[k], 1 / tr[k]))
    disparity = max(tr[g], 1 / tr[g])
    sev = _level(disparity, th["mild"], th["severe"])
    cure = _next_rung(
        (
            _Rung(
                "NTK-trace weighting (Wang, Yu & Perdikaris 2022, Alg. 1)",
                {"weighting.kind": "ntk"},
                _is("weighting.kind", "ntk"),
            ),
            _Rung(
                "random Fourier features (net.kind=fourier_mlp)",
                {"net.kind": "fourier_mlp"},
                _is("net.kind", "fourier_mlp", "pirate"),  # a PirateNet embeds its inputs so too
            ),
        ),
        setup,
    )
    k = th["decay_index"]
    msg = (
        f"mean NTK diagonal residual/{g} = {_fmt(tr[g])} at step {ntk['steps'][-1]} "
        f"(the terms converge at rates {_fmt(disparity)}x apart); eigen-decay of K_rr: "
        f"λ_1/λ_{k} = {_fmt(decay)}."
    )
    ev = {
        "trace_ratio": tr,
        "disparity": disparity,
        "group": g,
        "decay": decay,
        "decay_index": k,
        "figure": ntk["figure"],
    }
    return Finding("spectral_bias", sev, ev, cure, msg)


def _concentration_finding(conc, summary, setup, problem: Problem) -> Finding:
    th = THRESHOLDS["error_concentration"]
    err = summary.get("final_error")
    err = float(err) if err is not None else float("nan")
    c = conc["concentration"]
    sev = (
        "none" if not (np.isfinite(err) and err >= th["error_floor"]) else _level(c, th["mild"], th["severe"])
    )
    names = list(problem.domain.names)
    if "t" in names:
        a = names.index("t")
        causal = {
            "weighting.kind": "causal",
            "weighting.time_axis": a,
            "weighting.t_range": (float(problem.domain.lo[a]), float(problem.domain.hi[a])),
        }
        ladder = (
            _Rung(
                "causal weighting in time (Wang, Sankaran & Perdikaris 2024)",
                causal,
                _is("weighting.kind", "causal"),
            ),
        )
    elif conc["boundary_enrichment"] >= th["boundary"]:
        ladder = tuple(r._replace(advice=f"the error sits on the boundary: {r.advice}") for r in _BALANCING)
    else:
        ladder = (
            _Rung(
                "residual-based adaptive sampling (points where the residual is large)",
                {"sampling.kind": "rad"},
                _is("sampling.kind", "rad"),
            ),
        )
    cure = _next_rung(ladder, setup)
    share = max(conc["error_share"]) if np.all(np.isfinite(conc["error_share"])) else float("nan")
    msg = (
        f"{_fmt(100 * share)}% of the squared error in {conc['worst_region']} "
        f"(concentration {_fmt(c)}; boundary band: {_fmt(100 * conc['boundary_band_error_share'])}% of the "
        f"error on {_fmt(100 * conc['boundary_band_area'])}% of the grid); relative L2 {_fmt(err)}."
    )
    ev = {
        k: conc[k]
        for k in (
            "regions",
            "error_share",
            "residual_share",
            "worst_region",
            "concentration",
            "boundary_band_error_share",
            "boundary_enrichment",
            "figure",
        )
    } | {"final_error": err}
    return Finding("error_concentration", sev, ev, cure, msg)


def _jsonable(obj):
    """Arrays to lists, NaN/inf to None, tuples to lists, recursively."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, np.ndarray | jax.Array):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
