"""The cavity with the angles about the lid's two ends as extra network inputs (issue 10, a probe).

    ANGLE_EPS=1e-2 python benchmarks/explore_cavity_angles.py train cavity --recipe best --seed 0 --out DIR

Runs the ``pinnsight`` command line (any of its commands and options) with one change: every
network is built with two more inputs,

$$ \\theta_L = \\operatorname{atan2}(1 - y,\\ x + \\varepsilon),\\qquad
   \\theta_R = \\operatorname{atan2}(1 - y,\\ 1 - x + \\varepsilon), $$

the angles about points just outside the lid's ends (0, 1) and (1, 1), normalised like the
coordinates (mean and standard deviation over 100,000 uniform points). Near a lid end the
exact velocity depends on the angle only (Taylor's scraper flow; `pinnsight.problems.cavity`),
which a smooth network of $(x, y)$ cannot follow; with $\\theta$ as an input it can, and at the
end node itself $\\theta = 0$ gives the lid's speed, as the reference does. $\\varepsilon$
(``ANGLE_EPS``, default 1e-3) keeps the inputs smooth on the closed square: their $k$-th
derivatives are bounded by about $\\varepsilon^{-k}$.

The problem, its losses and its reference are unchanged; only the network's inputs differ, so
the run folder's ``config.json`` does not record the change and such a folder must be read back
through this script with the run's own ``ANGLE_EPS`` (``ANGLE_EPS=1e-2 python
benchmarks/explore_cavity_angles.py script benchmarks/error_regions.py DIR ...``; another
$\varepsilon$ reads the weights into other inputs and gives another, wrong, error). A probe for
docs/RESULTS.md §10, not a recipe.
"""

from __future__ import annotations

import os
import runpy
import sys

import equinox as eqx
import jax
import jax.numpy as jnp

from pinnsight.coefficients import attach_coefficients
from pinnsight.experiments import build as build_module
from pinnsight.nets import NETWORKS, check_network

EPS = float(os.environ.get("ANGLE_EPS", "1e-3"))


def lid_end_angles(x: jax.Array) -> jax.Array:
    r"""$(\theta_L, \theta_R)$ of one point (module docstring).

    0 on the lid, $\approx\pi/2$ on the side walls away from the ends."""
    eta = 1.0 - x[1]
    return jnp.stack([jnp.arctan2(eta, x[0] + EPS), jnp.arctan2(eta, 1.0 - x[0] + EPS)])


class WithLidEndAngles(eqx.Module):
    """``inner(concat(x, lid_end_angles(x)))``: a network of (x, y) whose inner network reads four inputs."""

    inner: eqx.Module

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.inner(jnp.concatenate([x, lid_end_angles(x)]))

    def main_kernels(self) -> list[jax.Array]:
        return self.inner.main_kernels()


def build_net_with_angles(config, problem, key):
    """`pinnsight.experiments.build.build_net` with the two angle inputs added."""
    layers = (problem.domain.dim + 2, *config.layers[1:])
    points = problem.domain.sample(jax.random.PRNGKey(1234), 100_000)
    inputs = jnp.concatenate([points, jax.vmap(lid_end_angles)(points)], axis=1)
    shift = tuple(float(v) for v in inputs.mean(0))
    scale = tuple(float(v) for v in inputs.std(0))
    inner = NETWORKS[config.net.kind](layers, key=key, shift=shift, scale=scale, **config.options("net"))
    net = WithLidEndAngles(inner)
    check_network(net, problem.domain.dim, problem.output_dim)
    return attach_coefficients(problem.coefficients, net)


def main(argv: list[str]) -> int:
    build_module.build_net = build_net_with_angles  # build() and load_run() look it up here
    if argv[:1] == ["script"]:
        sys.argv = argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return 0
    from pinnsight.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
