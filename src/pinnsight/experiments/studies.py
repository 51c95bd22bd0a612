r"""The paper's two diagnostic studies (PAPER §2), as commands.

- `poisson_imbalance`: M1 on the 1D Poisson problem for $C = 1, 2, 4$; per-layer
  gradient histograms and the imbalance $\max|\nabla_\theta\mathcal{L}_r| /
  \overline{|\nabla_\theta\mathcal{L}_b|}$, which the paper bounds by $O(C^4)$.
- `stiffness`: M1 on Helmholtz for several target frequencies $a_2$ ($a_1 = 1$), tracking
  $\sigma_{\max}(\nabla^2_\theta\mathcal{L})$ during training against the bound $2/\eta$.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..report import plots as report
from . import run_folder
from .compare import default_hist_steps
from .config import RunConfig
from .parallel import Job, run_many

__all__ = ["poisson_imbalance", "stiffness_study"]


def _fmt(v: float) -> str:
    return f"{v:g}"


def _missing(job: Job, summary: dict[str, Any], name: str) -> str:
    why = summary.get("error") or summary.get("status")
    return f"{job.out_dir / name}: missing (the run ended {why!r})."


def poisson_imbalance(
    *,
    values: Sequence[float] = (1.0, 2.0, 4.0),
    steps: int = 10_000,
    seed: int = 0,
    out: str | Path = "runs/study-poisson-imbalance",
    workers: int = 2,
    overwrite: bool | str = False,
    assignments: Sequence[str] = (),
) -> dict[str, Any]:
    """Train M1 on poisson1d for each ``C`` and report histograms and imbalance ratios."""
    out = Path(out)
    base = RunConfig.create(
        problem="poisson1d",
        recipe="M1",
        steps=steps,
        seed=seed,
        hist_steps=default_hist_steps(steps, every=max(steps // 4, 1)),
    )
    base = base.with_assignments(list(assignments))
    jobs = [Job(base.override(C=float(c)), out / f"C{_fmt(c)}") for c in values]
    with run_folder.FolderLock(out):  # only once every config is valid
        summaries = run_many(jobs, workers=workers, overwrite=overwrite, desc="poisson-imbalance")
        rows, hists, ratio0, ratio_med = [], {}, [], []
        for c, job, summ in zip(values, jobs, summaries, strict=True):
            data = run_folder.load_histograms(job.out_dir)
            if data is None:
                raise run_folder.RunFileError(_missing(job, summ, "histograms.npz"))
            hists[f"C = {_fmt(c)}"] = data
            metrics = run_folder.read_metrics(job.out_dir)
            r0 = float(data["summary/imbalance_bc"][0])
            rmed = statistics.median(metrics["imbalance_bc"])
            ratio0.append(r0)
            ratio_med.append(rmed)
            rows.append([_fmt(c), r0, rmed, summ.get("final_error", float("nan"))])
        logc = np.log(np.asarray(values, float))
        slope0 = float(np.polyfit(logc, np.log(ratio0), 1)[0]) if len(values) > 1 else float("nan")
        slope_m = float(np.polyfit(logc, np.log(ratio_med), 1)[0]) if len(values) > 1 else float("nan")

        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.loglog(values, ratio0, "o-", label=f"step 0 (slope {slope0:.2f})")
        ax.loglog(values, ratio_med, "s-", label=f"median over training (slope {slope_m:.2f})")
        ref = np.asarray(values, float) ** 4 * ratio0[0] / float(values[0]) ** 4
        ax.loglog(values, ref, "k--", label=r"$\propto C^4$")
        ax.set_xlabel("C")
        ax.set_ylabel(r"$\max|\nabla_\theta\mathcal{L}_r| \,/\, \overline{|\nabla_\theta\mathcal{L}_b|}$")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        ratio_png = report._save(fig, out / "imbalance_vs_C.png")
        first = report.plot_histogram_pair(hists, out / "histograms_step0.png", step_index=0)
        last = report.plot_histogram_pair(hists, out / "histograms_final.png", step_index=-1)
        table = report.format_table(
            ["C", "imbalance at step 0", "median imbalance in training", "final rel. L2"], rows
        )
        text = (
            f"M1 on `poisson1d` (u = sin(Cx) on [0,1]), {steps} steps, seed {seed}; the same "
            "initial network for every C.\n\n" + table + "\n\n"
            f"Fitted power of C: {slope0:.2f} at step 0, {slope_m:.2f} for the median over training "
            "(the paper's bound is C^4)."
        )
        report.write_report(
            out,
            "pinnsight study: 1D Poisson gradient imbalance",
            [
                ("Imbalance ratio against C", text, [ratio_png]),
                ("Gradient histograms at initialisation", "log10|∇_W L| per layer.", [first]),
                ("Gradient histograms at the end of training", "", [last]),
            ],
        )
        result = {
            "C": list(values),
            "ratio_step0": ratio0,
            "ratio_median": ratio_med,
            "slope_step0": slope0,
            "slope_median": slope_m,
            "final_error": [r[3] for r in rows],
        }
        run_folder.RunFolder(out).write_json("summary.json", result)
        return result


def stiffness_study(
    *,
    values: Sequence[float] = (1.0, 2.0, 3.0, 4.0),
    steps: int = 40_000,
    every: int = 1000,
    seed: int = 0,
    out: str | Path = "runs/study-stiffness",
    workers: int = 2,
    overwrite: bool | str = False,
    assignments: Sequence[str] = (),
) -> dict[str, Any]:
    """Track sigma_max during M1 training on Helmholtz for each ``a2`` (a1 = 1)."""
    out = Path(out)
    base = RunConfig.create(
        problem="helmholtz", recipe="M1", steps=steps, seed=seed, stiffness_every=every
    ).with_assignments(list(assignments))
    jobs = [Job(base.override(a1=1.0, a2=float(a)), out / f"a2_{_fmt(a)}") for a in values]
    with run_folder.FolderLock(out):  # only once every config is valid
        summaries = run_many(jobs, workers=workers, overwrite=overwrite, desc="stiffness")
        series, rows = {}, []
        for a, job, summ in zip(values, jobs, summaries, strict=True):
            s = run_folder.read_stiffness(job.out_dir)
            if s is None:
                raise run_folder.RunFileError(_missing(job, summ, "stiffness.csv"))
            series[f"a2 = {_fmt(a)}"] = s
            rows.append(
                [
                    _fmt(a),
                    s["sigma_max"][0],
                    max(s["sigma_max"]),
                    s["sigma_max"][-1],
                    summ.get("final_error", float("nan")),
                ]
            )
        png = report.plot_stiffness(series, out / "stiffness.png")
        table = report.format_table(
            ["a2", "σ_max at step 0", "max σ_max", "final σ_max", "final rel. L2"], rows
        )
        text = (
            f"M1 on `helmholtz` (a1 = 1), {steps} steps, σ_max every {every} steps by Lanczos "
            f"({base.diagnostics.stiffness_iters} Hessian-vector products), seed {seed}.\n\n" + table
        )
        report.write_report(
            out, "pinnsight study: stiffness of the gradient flow", [("σ_max during training", text, [png])]
        )
        result = {
            "a2": list(values),
            "sigma_step0": [r[1] for r in rows],
            "sigma_max": [r[2] for r in rows],
            "sigma_final": [r[3] for r in rows],
            "final_error": [r[4] for r in rows],
        }
        run_folder.RunFolder(out).write_json("summary.json", result)
        return result
