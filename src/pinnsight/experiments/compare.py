"""`pinnsight compare`: train M1–M4 (several seeds) on one problem and report side by side."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..report import plots as report
from . import run_folder
from .config import RunConfig
from .parallel import Job, run_many

__all__ = ["compare", "default_hist_steps", "summarise"]


def default_hist_steps(steps: int, every: int = 10_000) -> tuple[int, ...]:
    """Steps 0, 10k, 20k, ... and the final step (the paper's recording steps)."""
    return tuple(sorted(set(range(0, steps + 1, every)) | {steps}))


def summarise(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and min–max of the final error over seeds, with mean wall time and rate
    (finished and degraded runs count; ``degraded`` lists the warnings of the latter)."""
    ok = [s for s in summaries if s.get("status") in run_folder.COMPLETE]
    errs = [s["final_error"] for s in ok]
    return {
        "runs": len(summaries),
        "finished": len(ok),
        "median_error": statistics.median(errs) if errs else float("nan"),
        "min_error": min(errs) if errs else float("nan"),
        "max_error": max(errs) if errs else float("nan"),
        "errors": errs,
        "wall_time_s": statistics.mean(s["wall_time_s"] for s in ok) if ok else float("nan"),
        "steps_per_s": statistics.mean(s["steps_per_s"] for s in ok) if ok else float("nan"),
        "failures": [s.get("error") for s in summaries if s.get("status") not in run_folder.COMPLETE],
        "degraded": [s.get("warning") for s in summaries if s.get("status") == "degraded"],
    }


def compare(
    base: RunConfig,
    *,
    models: Sequence[str] = ("M1", "M2", "M3", "M4"),
    seeds: Sequence[int] = (0,),
    out: str | Path,
    workers: int = 2,
    overwrite: bool | str = False,
    histograms: bool = True,
) -> dict[str, Any]:
    """Train ``models`` x ``seeds`` from ``base`` into ``out/<model>/seed<k>`` and write
    ``out/report.html`` with the table, fields, losses, lambdas and gradient histograms.
    ``out`` is locked while it runs; unfinished runs in it are resumed."""
    out = Path(out)
    if histograms and not base.diagnostics.hist_steps:
        base = base.override(hist_steps=default_hist_steps(base.run.steps))
    jobs = [Job(base.override(model=m, seed=s), out / m / f"seed{s}") for m in models for s in seeds]
    with run_folder.FolderLock(out):  # only once every config is valid
        return _compare(base, jobs, models, seeds, out, workers, overwrite)


def _compare(base, jobs, models, seeds, out, workers, overwrite) -> dict[str, Any]:
    summaries = run_many(jobs, workers=workers, overwrite=overwrite, desc=f"compare {base.problem.name}")
    by_model: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    for job, summ in zip(jobs, summaries, strict=True):
        by_model[job.config.recipe].append({**summ, "seed": job.config.run.seed})
    table = {m: summarise(v) for m, v in by_model.items()}
    run_folder.RunFolder(out).write_json(
        "summary.json", {"base_config": base.to_dict(), "models": table, "runs": by_model}
    )
    make_compare_report(out, base, models, seeds, table)
    return table


def make_compare_report(out: Path, base: RunConfig, models, seeds, table) -> Path:
    from .runs import load_run

    seed0 = seeds[0]
    histories, nets, hists = {}, {}, {}
    problem = None
    for m in models:
        run_dir = out / m / f"seed{seed0}"
        if not (run_dir / "summary.json").exists() or table[m]["finished"] == 0:
            continue  # failed or unfinished: not drawn
        cfg, problem, net = load_run(run_dir)
        nets[m] = net
        histories[m] = run_folder.read_metrics(run_dir, run_folder.read_summary(run_dir))
        data = run_folder.load_histograms(run_dir, run_folder.expected_records(cfg)["histograms"])
        if data is not None:
            hists[m] = data
    header = ["model", "median rel. L2", "min", "max", "seeds", "wall time / run (s)", "steps/s"]
    rows = [
        [
            m,
            t["median_error"],
            t["min_error"],
            t["max_error"],
            f"{t['finished']}/{t['runs']}",
            t["wall_time_s"],
            t["steps_per_s"],
        ]
        for m, t in table.items()
    ]
    params = ", ".join(f"{k}={v}" for k, v in (problem.params if problem else {}).items())
    text = (
        f"Problem `{base.problem.name}` ({params}); {base.run.steps} steps, "
        f"batch {base.sampling.batch_size} per sampler, seeds {list(seeds)}, "
        f"optimiser `{base.optim.kind}`.\n\n" + report.format_table(header, rows)
    )
    failures = [f"{m}: {f}" for m, t in table.items() for f in t["failures"]]
    if failures:
        text += "\n\nFailed runs:\n" + "\n".join(f"- {f}" for f in failures)
    sections: list[tuple[str, str, list]] = [("Final relative L2 error", text, [])]
    if problem is not None and nets:
        imgs = [report.plot_fields(problem, nets, out / "fields.png")]
        sections.append((f"Fields (seed {seed0})", "Reference, prediction, |error|.", imgs))
        imgs = [report.plot_error_curves(histories, out / "errors.png")]
        p = report.plot_curves(histories, "loss_", out / "losses.png", ylabel="loss")
        imgs += [p] if p else []
        sections.append(("Training curves", "Relative L2 error and each loss term.", imgs))
        p = report.plot_curves(histories, "lambda_", out / "lambdas.png", ylabel="λ")
        p2 = report.plot_curves(
            histories, "imbalance_", out / "imbalance.png", ylabel="max|∇L_r| / mean|∇L_b|"
        )
        sections.append(
            (
                "Loss weights and gradient imbalance",
                "λ per constraint group, and the imbalance ratio max|∇L_r|/mean|∇L_g| (eq. 40).",
                [x for x in (p, p2) if x],
            )
        )
    pair = {m: hists[m] for m in ("M1", "M2") if m in hists}
    if pair:
        img = report.plot_histogram_pair(pair, out / "histograms_M1_M2.png")
        sections.append(
            (
                "Back-propagated gradients, M1 vs M2",
                "Densities of log10|∇_W L| per layer at the last recorded step: the residual "
                "term and the λ-weighted constraint terms (paper §2).",
                [img],
            )
        )
    return report.write_report(out, f"pinnsight compare: {base.problem.name}", sections)
