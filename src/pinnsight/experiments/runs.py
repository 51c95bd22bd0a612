"""Run a `RunConfig` end to end: build, train with the run-folder callbacks, load back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

from ..callbacks import Callback, LambdaCallback, ProgressBar
from ..losses import batch_sizes
from ..problem import Problem
from ..train import FitResult, fit
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
) -> FitResult:
    """Train the run described by ``config``; write its folder if ``out_dir`` is given.

    ``run.x64`` switches float64 on for this run only (`jax.enable_x64`). Everything is
    built (and so checked) before the folder is created.
    """
    with jax.enable_x64(config.run.x64):
        problem, net, key = build(config)
        balancer, optimizer = build_balancer(config), build_optimizer(config)
        sampler = build_sampler(config, problem)
        batch_sizes(problem, config.sampling.batch_size)  # refused before any folder exists
        folder = run_folder.RunFolder.create(out_dir, overwrite=overwrite) if out_dir is not None else None
        cbs: list[Callback] = [
            ProgressBar(disable=not progress),
            *build_recorders(config, out_dir),
            *callbacks,
        ]
        if on_chunk is not None:
            cbs.append(LambdaCallback(on_chunk))
        if folder is not None:
            cbs.append(run_folder.RunFolderCallback(folder, config.to_dict()))
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
            fixed_from=config.sampling.fixed_from,
            callbacks=cbs,
        )


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
    config = RunConfig.from_dict(run_folder.read_json(p / "config.json"))
    with jax.enable_x64(config.run.x64):
        problem, skeleton, _ = build(config)
        net = eqx.tree_deserialise_leaves(p / "model.eqx", skeleton)
    return config, problem, net
