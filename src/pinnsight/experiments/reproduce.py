"""`pinnsight reproduce`: the paper's results table, regenerated and resumable.

Trains M1–M4 on Helmholtz, Klein–Gordon and the cavity at Re = 100, and M1/M2/M4 on
Burgers, for several seeds at the paper's settings (Burgers, not in the official code, uses
512 residual points per step: `SETTINGS`), two runs side by side. Finished
(problem, model, seed) runs are reused, so an interrupted reproduction continues where
it stopped. Writes ``report.md``/``report.html`` and the table into docs/RESULTS.md
(between the ``<!-- reproduce:begin -->`` and ``<!-- reproduce:end -->`` markers).

``recipe="best"`` (``pinnsight reproduce --recipes best``) makes a second table with the same
machinery: every built-in problem that has a recipe of that name of its own (`recipe_suite`),
at the recipe's own settings and steps (a curriculum included), written beside the paper's
table between ``<!-- reproduce-best:begin -->`` and ``<!-- reproduce-best:end -->``.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..problems import PROBLEMS
from ..report import plots as report
from . import run_folder
from .compare import summarise
from .config import RunConfig
from .parallel import Job, finished_summary, run_many

__all__ = [
    "reproduce",
    "PAPER",
    "SUITE",
    "SETTINGS",
    "paper_data_dir",
    "PAPER_DATA_ENV",
    "cavity_paper_metric",
    "recipe_suite",
    "TARGETS",
]

SUITE: dict[str, tuple[str, ...]] = {
    "helmholtz": ("M1", "M2", "M3", "M4"),
    "klein_gordon": ("M1", "M2", "M3", "M4"),
    "cavity": ("M1", "M2", "M3", "M4"),
    "burgers": ("M1", "M2", "M4"),
}
"""Problems and models of the reproduction."""

SETTINGS: dict[str, dict[str, Any]] = {
    "burgers": {"batch_size": {"residual": 512}},
}
"""Per-problem departures from the shared set-up (PAPER §5). Burgers is not in the
official code, so its set-up is ours: 512 residual points per step (128 for the initial
and boundary data), because 128 uniform points rarely land in the shock (width ~1e-2)."""

PAPER: dict[tuple[str, str], str] = {
    ("helmholtz", "M1"): "1.81e-1",
    ("helmholtz", "M2"): "≈10× below M1",
    ("helmholtz", "M4"): "≈30× below M1",
    ("klein_gordon", "M1"): "~1e-1",
    ("klein_gordon", "M4"): "~1e-3",
    ("cavity", "M1"): "7.53e-1 (paper metric)",
    ("cavity", "M4"): "3.42e-2 (paper metric)",
    ("burgers", "M1"): "6.7e-4 (a PINN, quoted in a talk)",
}
"""The paper's reported numbers (PAPER.md §7), as text."""

TARGETS: dict[tuple[str, str], str] = {
    ("burgers", "best"): "≤ 1e-4 (issue 10)",
    ("cavity", "best"): "≤ 1e-2 at Re = 100 (issue 10)",
}
"""What a problem's own recipe aims at, as text (the recipe table's last column)."""


def recipe_suite(recipe: str) -> dict[str, tuple[str, ...]]:
    """Every built-in problem that has a recipe named ``recipe`` of its own (``best``, ...),
    with that recipe: the suite of ``pinnsight reproduce --recipes RECIPE``."""
    suite = {name: (recipe,) for name, entry in sorted(PROBLEMS.items()) if recipe in entry.recipes}
    if not suite:
        own = sorted({r for e in PROBLEMS.values() for r in e.recipes})
        raise ValueError(
            f"no built-in problem has a recipe {recipe!r} of its own (--recipes); "
            f"problems' own recipes: {', '.join(own) or 'none'}."
        )
    return suite


# cost weights for ordering the queue, longest first (measured steps/s ratios)
_COST = {"cavity": 4.0, "klein_gordon": 1.8, "helmholtz": 1.0, "burgers": 3.3}
_NET_COST = {"M1": 1.0, "M2": 1.0, "M3": 1.6, "M4": 1.6}


PAPER_DATA_ENV = "PINNSIGHT_PAPER_DATA"
"""Environment variable naming the folder of the paper's reference CSVs (see `paper_data_dir`)."""

CAVITY_CSV = "wang2021_cavity_re100_reference_u.csv"


def paper_data_dir(path: str | Path | None = None) -> Path | None:
    """The folder of the paper's own reference data, as the user names it.

    ``path`` (``--paper-data DIR``) or else the environment variable ``PINNSIGHT_PAPER_DATA``.
    The folder must hold the official code's cavity reference at Re = 100
    (``wang2021_cavity_re100_reference_u.csv`` / ``_v.csv``, exported from the data of
    github.com/PredictiveIntelligenceLab/GradientPathologiesPINNs); pinnsight ships no copy.
    Without it, the extra "paper metric" column of the cavity is left out.

    Raises:
        ValueError: a folder was named but does not hold the files.
    """
    given = path if path is not None else os.environ.get(PAPER_DATA_ENV) or None
    if given is None:
        return None
    folder = Path(given)
    if not (folder / CAVITY_CSV).is_file():
        raise ValueError(
            f"paper data folder {folder} has no {CAVITY_CSV}; name the folder that holds the "
            f"paper's reference CSVs with --paper-data DIR or {PAPER_DATA_ENV}."
        )
    return folder


def cavity_paper_metric(speed_grid: np.ndarray, data_dir: Path) -> dict[str, float]:
    r"""The paper's cavity error of a 100x100 velocity-magnitude grid ``[ix, iy]``.

    ``spectral``: $\|U-U_\text{ref}\|_2/\|U_\text{ref}\|_2$ with the matrix 2-norm, as the
    official code's ``np.linalg.norm(A, 2)``; ``frobenius``: the same with the
    Frobenius norm. $U_\text{ref}$ is the paper's own reference (CSV files).
    """
    u = np.loadtxt(data_dir / "wang2021_cavity_re100_reference_u.csv", delimiter=",")
    v = np.loadtxt(data_dir / "wang2021_cavity_re100_reference_v.csv", delimiter=",")
    ref = np.hypot(u, v)
    diff = speed_grid - ref
    return {
        "spectral": float(np.linalg.norm(diff, 2) / np.linalg.norm(ref, 2)),
        "frobenius": float(np.linalg.norm(diff) / np.linalg.norm(ref)),
    }


def _paper_metrics(job: Job, data_dir: Path | None) -> dict[str, float] | None:
    if data_dir is None or job.config.problem.name != "cavity":
        return None
    if float(job.config.problem.params.get("Re", 100.0)) != 100.0:
        return None
    from ..report.plots import predict
    from .runs import load_run

    _, problem, net = load_run(job.out_dir)
    _, pred = predict(problem, net)
    return cavity_paper_metric(pred[:, 0].reshape(100, 100), data_dir)


def _settings_note(suite) -> str:
    notes = [f"{p}: " + ", ".join(f"{k}={v}" for k, v in SETTINGS[p].items()) for p in suite if p in SETTINGS]
    return "; except " + "; ".join(notes) if notes else ""


def _jobs(suite, seeds, steps: int | None, out: Path, assignments, paper: bool) -> list[Job]:
    """One job per (problem, recipe, seed); the paper table adds its `SETTINGS`, and
    ``steps`` (None: the recipe's own) overrides ``run.steps``."""
    jobs = []
    for prob, models in suite.items():
        for m in models:
            for s in seeds:
                values: dict[str, Any] = {"problem": prob, "recipe": m, "seed": s}
                if steps is not None:
                    values["steps"] = steps
                values.update(SETTINGS.get(prob, {}) if paper else {})
                cfg = RunConfig.create(**values).with_assignments(list(assignments))
                jobs.append(Job(cfg, out / prob / m / f"seed{s}"))
    jobs.sort(key=lambda j: -_COST.get(j.config.problem.name, 1.0) * _NET_COST.get(j.config.recipe, 1.6))
    return jobs


def _table(suite, jobs, summaries, data_dir: Path | None, paper: bool):
    """``(rows, table)``: one Markdown row and one stats dict per (problem, recipe)."""
    rows, table = [], {}
    for prob, models in suite.items():
        for m in models:
            group = [
                (j, s)
                for j, s in zip(jobs, summaries, strict=True)
                if j.config.problem.name == prob and j.config.recipe == m
            ]
            stats = summarise([s for _, s in group])
            done = [j for j, s in group if s.get("status") in run_folder.COMPLETE]
            extra = [e for e in (_paper_metrics(j, data_dir) for j in done) if e]
            if extra:
                stats["paper_metric_median"] = float(np.median([e["spectral"] for e in extra]))
                stats["paper_csv_frobenius_median"] = float(np.median([e["frobenius"] for e in extra]))
            table[f"{prob}/{m}"] = stats
            pm = stats.get("paper_metric_median")
            spread = f"{stats['min_error']:.2e} – {stats['max_error']:.2e}"
            row = [prob, m, f"{stats['median_error']:.2e}", spread]
            if paper:
                row += [f"{pm:.2e}" if pm is not None else ""]
            else:
                row += [str(group[0][0].config.total_steps)]
            row += [f"{stats['finished']}/{stats['runs']}", f"{stats['wall_time_s']:.0f}"]
            row += [PAPER.get((prob, m), "") if paper else TARGETS.get((prob, m), "")]
            rows.append(row)
    return rows, table


def _text(md_table: str, seeds, steps, suite, wall, workers, reused, n_jobs, recipe: str | None) -> str:
    """The paragraph above the table, then the table."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {workers} runs side by side"
    seeds_text = " ".join(map(str, seeds))
    if recipe is None:
        settings = f"{steps} steps, paper settings{_settings_note(suite)}"
        what = f"`pinnsight reproduce --seeds {seeds_text}` ({settings})"
    else:
        length = "its own steps" if steps is None else f"{steps} steps"
        what = (
            f"`pinnsight reproduce --recipes {recipe} --seeds {seeds_text}` (each problem's own "
            f"`{recipe}` recipe, `pinnsight list` shows it, {length}; a curriculum's stages included)"
        )
    text = (
        f"{what}. Total wall time {wall / 60:.1f} min on {machine}; "
        f"{reused} of {n_jobs} runs were already finished and reused, not retrained. "
        "Relative L2 (vector 2-norm) against pinnsight's own "
        "references: exact solutions, Cole–Hopf for Burgers, the Ghia-validated finite-difference "
        "solver for the cavity (velocity magnitude, 100x100 grid). "
    )
    if recipe is None:
        text += (
            '"paper\'s metric": the cavity '
            "error as the official code computes it (spectral norm) against the paper's own reference "
            "CSV, the number to set beside the paper's."
        )
    return text + "\n\n" + md_table


def _header(paper: bool) -> list[str]:
    middle = ["paper's metric"] if paper else ["steps"]
    last = ["paper reports"] if paper else ["target"]
    return ["problem", "model" if paper else "recipe", "median rel. L2", "min – max", *middle, "seeds",
            "wall s / run", *last]  # fmt: skip


def _fields(out: Path, suite, seeds) -> list:
    """Reference, prediction and |error| per recipe of each problem (seed ``seeds[0]``)."""
    from .runs import load_run

    figs = []
    for prob, models in suite.items():
        nets, problem = {}, None
        for m in models:
            d = out / prob / m / f"seed{seeds[0]}"
            if (d / "summary.json").exists() and (d / "model.eqx").exists():
                _, problem, nets[m] = load_run(d)
        if problem is not None:
            figs.append(report.plot_fields(problem, nets, out / f"fields_{prob}.png"))
    return figs


def reproduce(
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int | None = None,
    out: str | Path | None = None,
    workers: int = 2,
    overwrite: bool | str = False,
    suite: dict[str, Sequence[str]] | None = None,
    results: str | Path | None = "docs/RESULTS.md",
    assignments: Sequence[str] = (),
    paper_data: str | Path | None = None,
    recipe: str | None = None,
) -> dict[str, Any]:
    """Run the suite and write the table (see the module docstring). ``paper_data``: the
    folder of the paper's reference CSVs (`paper_data_dir`), for the cavity's paper metric.

    ``recipe``: the table of every built-in problem's own recipe of that name (`recipe_suite`,
    or ``suite``) at its own settings, in ``out`` (default ``runs/reproduce-RECIPE``) and its
    own block of ``results``. ``steps``: steps per run (default 40000 for the paper's table,
    the recipe's own ``run.steps`` for a recipe table)."""
    paper = recipe is None
    out = Path(out or ("runs/reproduce" if paper else f"runs/reproduce-{recipe}"))
    paper_data_dir(paper_data)  # a wrong folder is refused before anything runs
    steps = steps if steps is not None or not paper else 40_000
    suite = dict(suite or (SUITE if paper else recipe_suite(recipe)))
    jobs = _jobs(suite, seeds, steps, out, assignments, paper)
    with run_folder.FolderLock(out):  # only once every config is valid
        reused = 0 if overwrite is True else sum(finished_summary(j) is not None for j in jobs)
        t0 = time.perf_counter()
        summaries = run_many(jobs, workers=workers, overwrite=overwrite, desc="reproduce")
        wall = time.perf_counter() - t0
        data_dir = paper_data_dir(paper_data)
        rows, table = _table(suite, jobs, summaries, data_dir, paper)
        md_table = report.format_table(_header(paper), rows)
        text = _text(md_table, seeds, steps, suite, wall, workers, reused, len(jobs), recipe)
        if data_dir is None and paper:
            text += "\n\n(The paper's cavity CSV was not found, so its metric is not shown.)"
        sections = [("Results", text, [])]
        figs = _fields(out, suite, seeds)
        sections.append((f"Fields (seed {seeds[0]})", "Reference, prediction, |error| per model.", figs))
        report.write_report(out, "pinnsight reproduce", sections)
        run_folder.RunFolder(out).write_json(
            "summary.json", {"wall_time_s": wall, "table": table, "seeds": list(seeds), "steps": steps}
        )
        if results:
            _update_results(Path(results), text, recipe)
        return {"table": table, "wall_time_s": wall, "markdown": md_table}


def _update_results(path: Path, text: str, recipe: str | None = None) -> None:
    """Replace the table's block in ``path``; a new recipe table goes right after the paper's."""
    tag = "reproduce" if recipe is None else f"reproduce-{recipe}"
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    block = f"{begin}\n{text}\n{end}"
    heading = "## Reproduction table" if recipe is None else f"### The `{recipe}` recipes"
    paper_end = "<!-- reproduce:end -->"
    content = path.read_text() if path.exists() else "# Results\n"
    if begin in content and end in content:
        content = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    elif recipe is not None and paper_end in content:
        content = content.replace(paper_end, f"{paper_end}\n\n{heading}\n\n{block}", 1)
    else:
        content = content.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
