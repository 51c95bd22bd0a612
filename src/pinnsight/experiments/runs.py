"""Run a `RunConfig` end to end: build, train with the run-folder callbacks, load back.

A run with a folder locks it for its whole duration and resumes an unfinished run of the
same config from its checkpoint (`pinnsight.experiments.run_folder`), bit for bit. A run
with a ``run.curriculum`` trains its stages one after the other, each warm-started from
the previous one, and resumes mid-curriculum (`pinnsight.experiments.curriculum`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax

from .. import memory
from ..callbacks import Callback, LambdaCallback, ProgressBar
from ..data_parallel import check_batch, data_mesh
from ..losses import batch_sizes
from ..problem import Problem
from ..problems import get_problem
from ..train import FitResult, check_step_memory, fit, init_state, terms_of
from ..weighting import Balancer
from . import run_folder
from .build import (
    build,
    build_balancer,
    build_optimizer,
    build_recorders,
    build_sampler,
    fixed_points_from,
)
from .config import RunConfig, stage_weighting
from .curriculum import (
    Stage,
    StageRecorder,
    StageRecords,
    run_stages,
    stage_balancer,
    stage_fixed_from,
    stage_key,
    stages_of,
    warm_start,
)

__all__ = ["run", "load_run", "stage_config"]


def run(
    config: RunConfig,
    out_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, dict[str, float]], None] | None = None,
    callbacks: Sequence[Callback] = (),
    announce: bool = True,
) -> FitResult:
    """Train the run described by ``config``; write its folder if ``out_dir`` is given.

    ``run.x64`` switches float64 on for this run only (`jax.enable_x64`). Everything is
    built (and so checked) before the folder is touched. The folder is locked while the run
    lasts; an unfinished run of the same config in it is resumed from its checkpoint
    (``announce``: say so on stderr) and ends bit-identical to an uninterrupted one;
    ``overwrite`` removes pinnsight's files first and starts over.

    With a ``run.curriculum`` the run is its stages in order (`stages_of`), each one `fit`
    warm-started from the previous stage's network (`pinnsight.experiments.curriculum`);
    ``callbacks`` and ``on_chunk`` see every stage (``on_start``/``on_end`` once per stage),
    and the result is the last stage's, with the whole run's history.

    Raises:
        FileExistsError: the folder holds a finished run, or a run of another config.
        pinnsight.experiments.run_folder.FolderBusyError: another process is using the folder.
        pinnsight.experiments.run_folder.RunFileError: a damaged file where it resumes.
    """
    with jax.enable_x64(config.run.x64):
        parts = _build_checked(config)
        stages = stages_of(config)
        train = _stage_trainer(config, parts, out_dir, progress, on_chunk, callbacks)
        if out_dir is None:
            return run_stages(stages, train)
        return _run_in_folder(config, parts, stages, train, out_dir, overwrite, announce)


class _Parts(NamedTuple):
    """What `build` and friends make of a config: shared by every stage of a run."""

    problem: Problem
    net: Any
    key: Any
    balancer: Any
    optimizer: Any
    sampler: Any


def _build_checked(config: RunConfig) -> _Parts:
    """Build the run's pieces and check its batch against its devices, before any folder exists."""
    problem, net, key = build(config)
    balancer, optimizer = build_balancer(config), build_optimizer(config)
    sampler = build_sampler(config, problem)
    mesh = data_mesh(config.run.devices)  # too many devices are refused here
    check_batch(batch_sizes(problem, config.sampling.batch_size), mesh)  # odd batches too
    parts = _Parts(problem, net, key, balancer, optimizer, sampler)
    for stage in stages_of(config):  # and every stage's own batch and balancer, before any folder exists
        if stage.batch_size is not None:
            _check_stage_batch(config, stage, parts, mesh)
        if stage.weighting is not None:
            _check_stage_weighting(config, stage, parts)
    return parts


def _check_stage_weighting(config: RunConfig, stage: Stage, parts: _Parts) -> None:
    """A stage's own balancer against the problem's terms (fixed weights naming no term are
    refused here, not after the stages before it have trained)."""
    staged = stage_config(config, stage, parts.problem)
    try:
        build_balancer(staged).init(terms_of(parts.problem))
    except ValueError as err:
        raise ValueError(f"`run.curriculum` weighting at {stage.name} = {stage.value:g}: {err}") from None


def _check_stage_batch(config: RunConfig, stage: Stage, parts: _Parts, mesh) -> None:
    """A stage's own batch against the devices and against memory (`check_step_memory`, on the
    run's problem: a ladder changes parameters, not shapes), so that a last stage too large for
    the machine is refused before the first one trains, not after it."""
    batch = _stage_batch(config, stage, parts.problem)
    where = f"`run.curriculum` batch_size at {stage.name} = {stage.value:g}"
    try:
        check_batch(batch_sizes(parts.problem, batch), mesh)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    if stage.index == 0 or batch == config.sampling.batch_size:
        return  # `fit` checks it when the first stage starts
    p, bal = parts, _stage_balancer(config, stage_config(config, stage, parts.problem), parts, stage)
    try:
        check_step_memory(p.problem, p.net, bal, p.optimizer, p.sampler, batch, devices=mesh)
    except memory.MemoryEstimateError as err:
        raise memory.MemoryEstimateError(f"{where}: {err}") from None


def _stage_callbacks(
    config: RunConfig,
    stage: Stage,
    prob: Problem,
    out_dir: str | Path | None,
    progress: bool,
    on_chunk: Callable[[int, dict[str, float]], None] | None,
    callbacks: Sequence[Callback],
    extra: Sequence[Callback],
) -> list[Callback]:
    """One stage's callbacks: progress bar, recorders, the caller's, then ``extra`` (the folder's) last."""
    recorders = build_recorders(config, out_dir, offset=stage.start)
    cbs: list[Callback] = [
        ProgressBar(desc=stage.label(prob.name), disable=not progress),
        *[StageRecorder(r, stage) for r in recorders],
        *callbacks,
    ]
    if on_chunk is not None:
        cbs.append(LambdaCallback(on_chunk))
    cbs.extend(extra)  # the run folder last: summary.json is the last file written
    return cbs


def _stage_batch(config: RunConfig, stage: Stage, problem: Problem) -> int | dict[str, int]:
    """The stage's points per step: ``sampling.batch_size`` with the ladder's batch for the
    stage over it (an int replaces it; a dict replaces the terms it names)."""
    own = stage.batch_size
    if own is None:
        return config.sampling.batch_size
    if isinstance(own, int):
        return own
    return {**batch_sizes(problem, config.sampling.batch_size), **own}


def stage_config(config: RunConfig, stage: Stage, problem: Problem) -> RunConfig:
    """``config`` with the stage's own initial learning rate, batch and ``weighting``, where
    its ladder gives them."""
    changes: dict[str, Any] = {}
    rate = stage.learning_rate
    if rate is not None and rate != config.options("optim").get("learning_rate"):
        changes["optim.learning_rate"] = rate
    if stage.batch_size is not None:
        changes["sampling.batch_size"] = _stage_batch(config, stage, problem)
    staged = config.override(**changes) if changes else config
    weighting = stage_weighting(config.weighting, stage.weighting)
    return staged if weighting == config.weighting else dataclasses.replace(staged, weighting=weighting)


def _stage_balancer(config: RunConfig, staged: RunConfig, parts: _Parts, stage: Stage) -> Balancer:
    """The run's balancer, or the stage's own where its ladder gives it one, seeing the
    stage's step count (`stage_balancer`)."""
    own = parts.balancer if staged.weighting == config.weighting else build_balancer(staged)
    return stage_balancer(own, stage)


def _stage_trainer(
    config: RunConfig,
    parts: _Parts,
    out_dir: str | Path | None,
    progress: bool,
    on_chunk: Callable[[int, dict[str, float]], None] | None,
    callbacks: Sequence[Callback],
) -> Callable[..., FitResult]:
    """The ``train(stage, state, history, extra)`` that `run_stages` calls: `fit` one stage,
    warm-started from the previous stage's state where the stage begins."""

    def train(stage: Stage, state=None, history=None, extra=()) -> FitResult:
        prob = parts.problem if stage.final else get_problem(config.problem.name, **stage.params)
        staged, optimizer = stage_config(config, stage, parts.problem), parts.optimizer
        bal, stage_k = _stage_balancer(config, staged, parts, stage), stage_key(parts.key, stage)
        if staged.options("optim") != config.options("optim"):
            optimizer = build_optimizer(staged)
        if state is not None and stage.index > 0 and int(state.step) == stage.start:
            state = warm_start(state, prob, parts.net, optimizer, bal, parts.sampler, stage_k, stage)
        cbs = _stage_callbacks(staged, stage, prob, out_dir, progress, on_chunk, callbacks, extra)
        return fit(
            prob,
            parts.net,
            bal,
            steps=stage.end,
            key=stage_k,
            optimizer=optimizer,
            sampler=parts.sampler,
            batch_size=staged.sampling.batch_size,
            chunk_size=config.run.chunk_size,
            eval_points=config.run.eval_points,
            fixed_from=stage_fixed_from(fixed_points_from(config), stage),
            callbacks=cbs,
            state=state,
            history=history,
            columns=stage.columns,
            devices=config.run.devices,
        )

    return train


def _resume_point(
    config: RunConfig,
    opened: run_folder.OpenedRun,
    parts: _Parts,
    stages: Sequence[Stage],
    out_dir: str | Path,
    announce: bool,
) -> tuple[Any, dict[str, list[float]] | None]:
    """``(state, history)`` to resume an unfinished run in ``opened`` from, ``(None, None)`` otherwise;
    ``announce``: say on stderr where it resumes."""
    if opened.status.kind != "unfinished":
        return None, None
    p, step = parts, opened.status.step or 0
    # the state's balancer is the one of the stage that trained it (a stage may have its own)
    owner = next((s for s in stages if s.start < step <= s.end), stages[0])
    bal = _stage_balancer(config, stage_config(config, owner, p.problem), p, owner)
    skeleton = jax.eval_shape(lambda: init_state(p.problem, p.net, p.optimizer, bal, p.sampler, p.key))
    state = opened.load_state(skeleton)
    history = opened.history
    if announce:
        print(
            f"resuming {out_dir} from step {opened.resume_step} of {stages[-1].end}",
            file=sys.stderr,
            flush=True,
        )
    return state, history


def _run_in_folder(
    config: RunConfig,
    parts: _Parts,
    stages: Sequence[Stage],
    train: Callable[..., FitResult],
    out_dir: str | Path,
    overwrite: bool,
    announce: bool,
) -> FitResult:
    """Run ``stages`` in the locked folder ``out_dir``, resuming an unfinished run found there."""
    with run_folder.open_run(out_dir, config, overwrite=overwrite) as opened:
        state, history = _resume_point(config, opened, parts, stages, out_dir, announce)

        def tail(stage: Stage) -> list[Callback]:  # last: summary.json is the last file
            folder_cb = run_folder.RunFolderCallback
            return [folder_cb(opened.folder, config.to_dict(), write_summary=stage.final)]

        records = StageRecords(opened.folder.path)
        return run_stages(stages, train, state=state, history=history, records=records, tail=tail)


def load_run(path: str | Path) -> tuple[RunConfig, Problem, Any]:
    """``(config, problem, net)`` of a run folder, the network loaded from ``model.eqx``.

    The config is read from ``config.json`` and the problem and network are rebuilt from it
    (in float64 if the run was), so the folder alone is enough to evaluate the trained model.

    Args:
        path: a run folder written by `run` (``pinnsight train`` writes one too).

    Returns:
        The `RunConfig`, the `Problem` and the trained network.

    Raises:
        FileNotFoundError: ``path`` has no ``config.json`` or ``model.eqx``.
        pinnsight.experiments.run_folder.RunFileError: either file is damaged or foreign.

    Example:
        ```python
        config, problem, net = ps.load_run("runs/helmholtz-M4-seed0")
        ref = problem.reference_data                   # exact solution on the evaluation grid
        pred = problem.observe(net, ref.points)        # network output there, shape (N, k)
        config.recipe, config.run.steps                # ("M4", 40000)
        ```
    """
    p = Path(path)
    if not (p / "config.json").exists() or not (p / "model.eqx").exists():
        raise FileNotFoundError(f"{p} is not a run folder (no config.json and model.eqx).")
    config = run_folder.read_config(p)
    with jax.enable_x64(config.run.x64):
        problem, skeleton, _ = build(config)
        net = run_folder.load_model(p, skeleton)
    return config, problem, net
