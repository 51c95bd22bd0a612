"""Run a `RunConfig` end to end: build, train with the run-folder callbacks, load back.

A run with a folder locks it for its whole duration and resumes an unfinished run of the
same config from its checkpoint (`pinnsight.experiments.run_folder`), bit for bit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

from ..callbacks import Callback, LambdaCallback, ProgressBar
from ..losses import batch_sizes
from ..problem import Problem
from ..train import FitResult, fit, init_state
from . import run_folder
from .build import build, build_balancer, build_optimizer, build_recorders, build_sampler
from .config import RunConfig

__all__ = ["run", "load_run"]


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

    Raises:
        FileExistsError: the folder holds a finished run, or a run of another config.
        pinnsight.experiments.run_folder.FolderBusyError: another process is using the folder.
        pinnsight.experiments.run_folder.RunFileError: a damaged file where it resumes.
    """
    with jax.enable_x64(config.run.x64):
        problem, net, key = build(config)
        balancer, optimizer = build_balancer(config), build_optimizer(config)
        sampler = build_sampler(config, problem)
        batch_sizes(problem, config.sampling.batch_size)  # refused before any folder exists

        def train(state=None, history=None, extra=()):
            cbs: list[Callback] = [
                ProgressBar(disable=not progress),
                *build_recorders(config, out_dir),
                *callbacks,
            ]
            if on_chunk is not None:
                cbs.append(LambdaCallback(on_chunk))
            cbs.extend(extra)  # the run folder last: summary.json is the last file written
            return fit(
                problem,
                net,
                balancer,
                steps=config.run.steps,
                key=key,
                optimizer=optimizer,
                sampler=sampler,
                batch_size=config.sampling.batch_size,
                chunk_size=config.run.chunk_size,
                eval_points=config.run.eval_points,
                fixed_from=config.sampling.fixed_from,
                callbacks=cbs,
                state=state,
                history=history,
            )

        if out_dir is None:
            return train()
        with run_folder.open_run(out_dir, config, overwrite=overwrite) as opened:
            state = history = None
            if opened.status.kind == "unfinished":
                skeleton = jax.eval_shape(lambda: init_state(problem, net, optimizer, balancer, sampler, key))
                state = opened.load_state(skeleton)
                history = opened.history
                if announce:
                    print(
                        f"resuming {out_dir} from step {opened.resume_step} of {config.run.steps}",
                        file=sys.stderr,
                        flush=True,
                    )
            folder_cb = run_folder.RunFolderCallback(opened.folder, config.to_dict())
            return train(state, history, [folder_cb])


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
