"""Building the paper's models M1–M4 (network + balancer) from a `RunConfig`."""

from __future__ import annotations

import jax

from .config import RunConfig
from .nets import MLP, ModifiedMLP, input_stats
from .problem import Problem
from .sampling import Sampler, rad, uniform
from .weighting import Balancer, annealing, fixed

__all__ = ["NETWORKS", "build_net", "build_balancer", "build_sampler"]

NETWORKS = {"mlp": MLP, "modified_mlp": ModifiedMLP}


def build_net(name: str, layers: tuple[int, ...], problem: Problem, key: jax.Array):
    """Network ``name`` with inputs normalised by the sampled mean/std of the domain."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}.")
    if layers[0] != problem.domain.dim or layers[-1] != problem.output_dim:
        raise ValueError(
            f"layers {layers} do not fit problem {problem.name!r}: it needs "
            f"{problem.domain.dim} inputs and {problem.output_dim} outputs."
        )
    shift, scale = input_stats(problem.domain)
    return NETWORKS[name](layers, key=key, shift=shift, scale=scale)


def build_balancer(config: RunConfig, problem: Problem | None = None) -> Balancer:
    """Fixed weights for M1/M3, learning-rate annealing for M2/M4 (statistic from the
    config, else the problem's default)."""
    if not config.annealing:
        return fixed()
    return annealing(
        variant=config.annealing_variant,
        alpha=config.annealing_alpha,
        every=config.balance_every,
        statistic=config.annealing_statistic
        or (problem.annealing_statistic if problem is not None else "global"),
    )


def build_sampler(config: RunConfig, problem: Problem) -> Sampler:
    """The residual-point sampler of a config: `uniform` (the paper's) or `rad`."""
    if config.sampling == "rad":
        return rad(problem.domain, pool=config.rad_pool, k=config.rad_k, c=config.rad_c)
    return uniform(problem.domain)
