"""From a checked `RunConfig` to objects: problem, network, balancer, optimiser, sampler, recorders."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import optax

from ..coefficients import attach_coefficients
from ..diagnostics.recorders import HistogramRecorder, StiffnessRecorder
from ..nets import NETWORKS, check_network, input_stats
from ..optim import OPTIMIZERS, POLISHERS, paper_schedule, switch_at
from ..problem import Problem
from ..sampling import SAMPLERS, Sampler
from ..weighting import BALANCERS, Balancer, frozen_from
from .config import RunConfig
from .curriculum import run_problem

__all__ = [
    "build_problem",
    "build_net",
    "build_balancer",
    "build_optimizer",
    "build_sampler",
    "build_recorders",
    "build",
    "learning_rate_at",
]


def build_problem(config: RunConfig) -> Problem:
    """The run's own problem: ``problem.params``, over the curriculum's ``final_params`` at
    the run's target if it has them (`pinnsight.experiments.curriculum.final_params`)."""
    return run_problem(config)


def build_net(config: RunConfig, problem: Problem, key: jax.Array):
    """The network of ``config.net`` with inputs normalised by the sampled mean/std of the domain
    (holding the problem's trainable coefficients, if any, so ``model.eqx`` loads into it)."""
    layers = config.layers
    if layers[0] != problem.domain.dim or layers[-1] != problem.output_dim:
        raise ValueError(
            f"net.layers {layers} do not fit problem {problem.name!r}: it needs "
            f"{problem.domain.dim} inputs and {problem.output_dim} outputs."
        )
    shift, scale = input_stats(problem.domain)
    net = NETWORKS[config.net.kind](layers, key=key, shift=shift, scale=scale, **config.options("net"))
    check_network(net, problem.domain.dim, problem.output_dim)
    return attach_coefficients(problem.coefficients, net)


def build_balancer(config: RunConfig) -> Balancer:
    balancer = BALANCERS[config.weighting.kind](**config.options("weighting"))
    freeze = config.weighting.freeze_from
    if freeze is None:
        freeze = config.optim.polish_from
    if freeze is not None:
        balancer = frozen_from(balancer, freeze)
    return balancer


def fixed_points_from(config: RunConfig) -> int | None:
    """The step from which the points stay fixed: ``sampling.fixed_from``, else the
    polish stage's first step (``optim.polish_from``: L-BFGS and Gauss–Newton need one
    objective)."""
    if config.sampling.fixed_from is not None:
        return config.sampling.fixed_from
    return config.optim.polish_from


def build_optimizer(config: RunConfig) -> optax.GradientTransformation:
    """The optimiser of ``config.optim``; with ``polish`` set, `optax.lbfgs` (zoom line
    search) or `pinnsight.optim.gauss_newton` takes over at ``polish_from``
    (`pinnsight.optim.switch_at`)."""
    optimizer = OPTIMIZERS[config.optim.kind](**config.options("optim"))
    if config.optim.polish is not None:
        optimizer = switch_at(optimizer, POLISHERS[config.optim.polish](), config.optim.polish_from)
    return optimizer


def build_sampler(config: RunConfig, problem: Problem) -> Sampler:
    return SAMPLERS[config.sampling.kind](problem.domain, **config.options("sampling"))


_ON_PAPER_SCHEDULE = ("adam", "soap", "adam_lbfgs")


def learning_rate_at(config: RunConfig):
    r"""``step -> learning rate`` of the paper's schedule $\eta_0\gamma^{t/T}$ with this config's
    options, for the stiffness bound $2/\eta$: the schedule of Adam, of SOAP and of Adam before
    L-BFGS; NaN from the step a line search takes over (``adam_lbfgs``'s ``switch_step``,
    ``optim.polish_from``), where no rate bounds the step; None for an optimiser without it."""
    if config.optim.kind not in _ON_PAPER_SCHEDULE:
        return None
    opts = config.options("optim")
    schedule = paper_schedule(
        opts["learning_rate"], opts["decay_rate"], opts["decay_steps"], opts.get("warmup_steps", 0)
    )
    ends = [s for s in (opts.get("switch_step"), config.optim.polish_from) if s is not None]
    if not ends:
        return schedule
    end = min(ends)
    return lambda t: jnp.where(jnp.asarray(t) < end, schedule(t), jnp.nan)


def build_recorders(config: RunConfig, out_dir: str | Path | None, offset: int = 0) -> list:
    """The diagnostics recorders ``config.diagnostics`` asks for, over all the run's steps
    (a curriculum's included); ``offset``: the step at which the current stage's optimiser
    (and so its learning-rate schedule) started."""
    d, steps = config.diagnostics, config.total_steps
    recs: list = []
    hist_steps = [s for s in d.hist_steps if 0 <= s <= steps]
    if hist_steps:
        recs.append(HistogramRecorder(hist_steps, bins=d.hist_bins, seed=config.run.seed, out_dir=out_dir))
    if d.stiffness_every:
        schedule = learning_rate_at(config) or (lambda t: float("nan"))
        recs.append(
            StiffnessRecorder(
                d.stiffness_every,
                total_steps=steps,
                learning_rate=lambda t: float(schedule(t - offset)),
                num_iters=d.stiffness_iters,
                per_term=d.stiffness_terms,
                seed=config.run.seed,
                out_dir=out_dir,
            )
        )
    return recs


def build(config: RunConfig) -> tuple[Problem, object, jax.Array]:
    """Problem, initial network and training key of a config (seeded by ``run.seed``)."""
    problem = build_problem(config)
    init_key, train_key = jax.random.split(jax.random.PRNGKey(config.run.seed))
    return problem, build_net(config, problem, init_key), train_key
