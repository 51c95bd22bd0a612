"""Gauss–Newton (Levenberg–Marquardt) polish: the transformation on exact least squares, and
the sum-of-squares form of the training step's loss."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import pinnsight as ps
from pinnsight.experiments.build import build
from pinnsight.losses import WeightedLoss, batch_sizes, sample_points, total_loss_fn, weighted_residuals_fn
from pinnsight.optim import gauss_newton


def _least_squares(residual):
    """A WeightedLoss for ``residual(params) -> r`` (its Jacobian by forward mode)."""

    def residuals(params, with_jacobian=False):
        r = residual(params)
        if not with_jacobian:
            return r
        flat, unravel = ravel_pytree(params)
        return r, jax.jacfwd(lambda t: residual(unravel(t)))(flat)

    return WeightedLoss(lambda p: jnp.sum(residual(p) ** 2), residuals)


def _update(opt, loss):
    """``opt.update`` with ``value_fn=loss``, compiled once (as inside the training step)."""
    return jax.jit(lambda state, params: opt.update(None, state, params, value_fn=loss))


def _steps(opt, params, loss, n):
    state, update = opt.init(params), _update(opt, loss)
    for _ in range(n):
        updates, state = update(state, params)
        params = jax.tree_util.tree_map(lambda p, u: p + u, params, updates)
    return params


def test_one_step_solves_a_linear_least_squares_problem():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        a, b = jnp.asarray(rng.normal(size=(30, 5))), jnp.asarray(rng.normal(size=30))
        loss = _least_squares(lambda p: a @ p["w"] - b)
        out = _steps(gauss_newton(damping=1e-12), {"w": jnp.zeros(5)}, loss, 1)
        expected = np.linalg.lstsq(np.asarray(a), np.asarray(b), rcond=None)[0]
        np.testing.assert_allclose(out["w"], expected, rtol=1e-8, atol=1e-10)


def test_rosenbrock_residuals_converge_and_a_failed_step_raises_the_damping():
    with jax.enable_x64(True):
        loss = _least_squares(lambda p: jnp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]]))
        out = _steps(gauss_newton(), jnp.asarray([-1.2, 1.0]), loss, 20)
        np.testing.assert_allclose(out, [1.0, 1.0], atol=1e-10)
        opt = gauss_newton(damping=1e-3, grow=10.0)
        at_min = jnp.asarray([1.0, 1.0])  # loss 0: no step size lowers it
        _, state = _update(opt, loss)(opt.init(at_min), at_min)
        assert float(state.rho) == pytest.approx(1e-2)


def test_the_step_loss_is_the_square_norm_of_its_residual_vector_and_the_jacobian_is_exact():
    with jax.enable_x64(True):
        cfg = ps.RunConfig.create(problem="klein_gordon", **{"net.layers": (2, 6, 6, 1), "run.x64": True})
        problem, net, key = build(cfg)
        params, static = eqx.partition(net, eqx.is_inexact_array)
        pts = sample_points(problem, key, batch_sizes(problem, 8))
        weights = {"residual": 0.5, "ic": 3.0, "bc": 2.0}
        fn = weighted_residuals_fn(problem, static, weights, pts)
        flat, unravel = ravel_pytree(params)

        @jax.jit  # one compile (op by op, every operation would compile on its own)
        def computed(params, flat):
            r, jac = fn(params, with_jacobian=True)
            loss = total_loss_fn(problem, static, weights, pts)(params)
            return r, jac, loss, jax.jacfwd(lambda t: fn(unravel(t)))(flat)

        r, jac, loss, dense = computed(params, flat)
        np.testing.assert_allclose(jnp.sum(r**2), loss, rtol=1e-12)
        np.testing.assert_allclose(jac, dense, atol=1e-12)


def test_polish_stage_through_the_config_tree_lowers_the_error_of_poisson():
    common = {"problem": "poisson1d", "net.layers": (1, 12, 12, 1), "run.x64": True, "run.chunk_size": 50}
    adam = ps.run(ps.RunConfig.create(**common, **{"run.steps": 300}), progress=False)
    polished = ps.run(
        ps.RunConfig.create(
            **common, **{"run.steps": 330, "optim.polish": "gauss_newton", "optim.polish_from": 300}
        ),
        progress=False,
    )
    assert polished.summary["final_error"] < adam.summary["final_error"] / 100


def test_a_singular_system_takes_no_step_and_raises_the_damping():
    loss = _least_squares(lambda p: jnp.stack([p[0] * 0.0 + jnp.nan, p[1]]))
    opt = gauss_newton(damping=1e-3, grow=10.0)
    params = jnp.asarray([1.0, 2.0])
    updates, state = _update(opt, loss)(opt.init(params), params)
    assert np.all(np.asarray(updates) == 0.0) and float(state.rho) == pytest.approx(1e-2)
