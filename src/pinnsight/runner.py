"""Run a `RunConfig` end to end: build problem, network and balancer, train, save."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

from . import runio
from .config import RunConfig
from .diagnostics import recorders_for
from .models import build_balancer, build_net, build_sampler
from .problem import Problem
from .problems import get_problem
from .train import FitResult, fit, paper_optimizer

__all__ = ["run", "load_run", "build"]


def build(config: RunConfig) -> tuple[Problem, eqx.Module, jax.Array]:
    """Problem, initial network and training key of a config (seeded by ``config.seed``)."""
    problem = get_problem(config.problem, **config.problem_params)
    layers = config.layers or problem.layers
    init_key, train_key = jax.random.split(jax.random.PRNGKey(config.seed))
    net = build_net(config.network, tuple(layers), problem, init_key)
    return problem, net, train_key


def run(
    config: RunConfig,
    out_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train the run described by ``config``; write its folder if ``out_dir`` is given.

    ``config.x64`` switches float64 on for this run only (`jax.enable_x64`).
    """
    with jax.enable_x64(config.x64):
        problem, net, key = build(config)
        recorders = recorders_for(config, problem, out_dir)
        result = fit(
            problem,
            net,
            build_balancer(config, problem),
            steps=config.steps,
            key=key,
            batch_size=config.batch_size,
            optimizer=paper_optimizer(config.learning_rate, config.decay_rate, config.decay_steps),
            sampler=build_sampler(config, problem),
            chunk_size=config.chunk_size,
            out_dir=out_dir,
            overwrite=overwrite,
            config=config.to_dict(),
            progress=progress,
            on_chunk=on_chunk,
            recorders=recorders,
        )
        for rec in recorders:
            rec.finish()
    return result


def load_run(path: str | Path) -> tuple[RunConfig, Problem, Any]:
    """``(config, problem, net)`` of a finished run folder, the network loaded from ``model.eqx``."""
    p = Path(path)
    if not (p / "config.json").exists() or not (p / "model.eqx").exists():
        raise FileNotFoundError(f"{p} is not a run folder (no config.json and model.eqx).")
    config = RunConfig.from_dict(runio.read_json(p / "config.json"))
    with jax.enable_x64(config.x64):
        problem, skeleton, _ = build(config)
        net = eqx.tree_deserialise_leaves(p / "model.eqx", skeleton)
    return config, problem, net
