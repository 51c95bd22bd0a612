"""The report of one finished run (`pinnsight train` writes it, `pinnsight diagnose` redraws it)."""

from __future__ import annotations

from pathlib import Path

from ..experiments import run_folder
from ..experiments.runs import load_run
from . import plots as report

__all__ = ["render_run"]


def _coefficient_rows(problem, history) -> list[list]:
    """The learned value of each trainable coefficient, with its truth and error when known."""
    rows = []
    for name, coef in problem.coefficients.items():
        values = history.get(f"coef_{name}")
        if not values:
            continue
        rows.append([f"coefficient {name}", values[-1]])
        if coef.true is not None:
            rel = abs(values[-1] - coef.true) / abs(coef.true) if coef.true else abs(values[-1])
            rows.append([f"coefficient {name}: truth, relative error", f"{coef.true:.6g}, {rel:.3e}"])
    return rows


def _stage_section(stages: list[dict]) -> tuple[str, str, list]:
    """The curriculum's stages as one table: per stage its parameter value, the run's steps
    it trained, its error against the reference *at its own value*, its last loss, λ, the
    gradient imbalance and, if any stage recorded it, the Hessian's σ_max
    (`pinnsight.experiments.curriculum`)."""
    groups = sorted({g for rec in stages for g in (rec.get("final_lambda") or {})})
    ratios = sorted({g for rec in stages for g in (rec.get("imbalance") or {})})
    header = ["stage", "parameter", "steps", "error at its value", "final loss"]
    sigma = any("sigma_max" in rec for rec in stages)
    header += [f"λ {g}" for g in groups] + [f"imbalance {g}" for g in ratios] + ["σ_max"] * sigma
    rows = []
    for rec in stages:
        lam, imb = rec.get("final_lambda") or {}, rec.get("imbalance") or {}
        params = ", ".join(f"{k}={v:g}" for k, v in (rec.get("params") or {}).items())
        rows.append(
            [rec.get("stage"), params, f"{rec.get('start_step')}–{rec.get('end_step')}",
             rec.get("final_error"), rec.get("final_loss")]
            + [lam.get(g, "") for g in groups] + [imb.get(g, "") for g in ratios]
            + [rec.get("sigma_max", "")] * sigma
        )  # fmt: skip
    text = "Each stage warm-started from the one before (`run.curriculum`).\n\n"
    return "Stages", text + report.format_table(header, rows), []


def _refuse_unfinished(run_dir: Path) -> None:
    """A folder without ``summary.json`` is an unfinished run: say so in one line."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder.")
    if (run_dir / "summary.json").exists() or not (run_dir / "config.json").exists():
        return
    status = run_folder.inspect_run(run_dir)
    where = f"checkpoint at step {status.step} of {status.steps}" if status.step else "no checkpoint yet"
    raise ValueError(
        f"{run_dir} is an unfinished run (no summary.json; {where}): run the command that "
        "started it again to resume it, then diagnose it."
    )


def render_run(run_dir: str | Path) -> Path:
    """Draw every figure a run folder supports and write its ``report.html``/``report.md``."""
    run_dir = Path(run_dir)
    _refuse_unfinished(run_dir)
    config, problem, net = load_run(run_dir)
    summary = run_folder.read_summary(run_dir)
    history = run_folder.read_metrics(run_dir, summary)
    label = config.recipe
    rows = [[k, v] for k, v in summary.items() if not isinstance(v, dict | list)]
    rows += [[f"lambda {g}", v] for g, v in summary.get("final_lambda", {}).items()]
    rows += _coefficient_rows(problem, history)
    sections = [
        (
            "Summary",
            f"`{config.problem.name}` {problem.params}, recipe {config.recipe}, seed {config.run.seed}.\n\n"
            + report.format_table(["quantity", "value"], rows),
            [],
        )
    ]
    if summary.get("stages"):
        sections.append(_stage_section(summary["stages"]))
    sections.append(
        (
            "Fields",
            "Reference, prediction, |error|.",
            [report.plot_fields(problem, {label: net}, run_dir / "fields.png")],
        )
    )
    imgs = [report.plot_error_curves({label: history}, run_dir / "errors.png")]
    for prefix, name, ylabel in (
        ("loss_", "losses", "loss"),
        ("lambda_", "lambdas", "λ"),
        ("imbalance_", "imbalance", "max|∇L_r| / mean|∇L_g|"),
    ):
        p = report.plot_curves({label: history}, prefix, run_dir / f"{name}.png", ylabel=ylabel)
        if p:
            imgs.append(p)
    sections.append(("Training curves", "Error, loss terms, λ and the gradient imbalance.", imgs))
    truths = {name: c.true for name, c in problem.coefficients.items()}
    coef_plot = report.plot_coefficients(history, truths, run_dir / "coefficients.png")
    if coef_plot:
        sections.append(("Coefficients", "The trainable PDE coefficients during training.", [coef_plot]))
    expected = run_folder.expected_records(config) if summary["status"] in run_folder.COMPLETE else {}
    data = run_folder.load_histograms(run_dir, expected.get("histograms"))
    if data is not None:
        imgs = [
            report.plot_histograms(data, run_dir / f"histograms_step{int(s)}.png", step_index=i, title=label)
            for i, s in enumerate(data["steps"])
        ]
        sections.append(
            (
                "Back-propagated gradients per layer",
                "Densities of log10|∇_W L| for the residual and the λ-weighted constraint terms (paper §2).",
                imgs,
            )
        )
    stiffness = run_folder.read_stiffness(run_dir, expected.get("stiffness"))
    if stiffness is not None:
        series = {label: stiffness}
        sections.append(
            (
                "Stiffness",
                "Largest Hessian eigenvalue of the loss and the bound 2/η.",
                [report.plot_stiffness(series, run_dir / "stiffness.png")],
            )
        )
    return report.write_report(run_dir, f"pinnsight run: {config.problem.name} {config.recipe}", sections)
