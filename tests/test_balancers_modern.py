"""grad_norm, ntk_trace, relobralo, softadapt and causal against hand computations, and through fit."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.losses import sample_points, term_losses_and_gradients
from pinnsight.weighting import BalanceInputs
from pinnsight.weighting.causal import causal, slice_weights
from pinnsight.weighting.grad_norm import grad_norm
from pinnsight.weighting.ntk import ntk_trace
from pinnsight.weighting.relobralo import relobralo
from pinnsight.weighting.softadapt import softadapt

TERMS = ("residual", "bc", "ic")

# full gradients as pytrees: ||g_r|| = 13, ||g_bc|| = 5, ||g_ic|| = 1
GRADS = {
    "residual": {"w": jnp.array([[3.0, 4.0], [0.0, 12.0]]), "b": [jnp.array([0.0])]},
    "bc": {"w": jnp.array([[0.0, 3.0], [0.0, 0.0]]), "b": [jnp.array([-4.0])]},
    "ic": {"w": jnp.array([[0.0, 0.0], [1.0, 0.0]]), "b": [jnp.array([0.0])]},
}
NORMS = np.array([13.0, 5.0, 1.0])

# per-point NTK diagonals: means 2, 20, 5
NTK = {"residual": jnp.array([1.0, 2.0, 3.0]), "bc": jnp.array([10.0, 30.0]), "ic": jnp.array([5.0])}
NTK_MEANS = np.array([2.0, 20.0, 5.0])


def _no_ntk(term):
    raise AssertionError("this balancer does not use the NTK diagonal")


def _inputs(step=0, losses=(1.0, 1.0, 1.0), ntk=_no_ntk):
    return BalanceInputs(
        losses={g: jnp.asarray(v) for g, v in zip(TERMS, losses, strict=True)},
        grads=GRADS,
        kernels={g: [GRADS[g]["w"]] for g in TERMS},
        step=jnp.asarray(step),
        ntk_diagonal=ntk,
    )


def _jitted(balancer, inputs, state):
    """``balancer.update`` under ``jit`` (the inputs closed over: they hold a function)."""
    return jax.jit(lambda s: balancer.update(inputs, s))(state)


def _weights(state):
    return np.array([float(state.weights[g]) for g in TERMS])


def _by_mean(values):
    """jaxpi's estimate: mean / (v + 1e-5 mean)."""
    mean = np.mean(values)
    return mean / (values + 1e-5 * mean)


# ---------------------------------------------------------------- grad_norm


def test_grad_norm_by_hand_with_moving_average_and_period():
    b = grad_norm(every=3, momentum=0.8)
    assert b.weights_residual and b.point_weights is None
    s0 = b.init(TERMS)
    assert set(s0.weights) == set(TERMS) and s0.weights["residual"].dtype == jnp.result_type(float)
    lam_hat = _by_mean(NORMS)
    s1 = b.update(_inputs(step=0), s0)  # step 0 updates
    np.testing.assert_allclose(_weights(s1), 0.8 * 1.0 + 0.2 * lam_hat, rtol=1e-6)
    np.testing.assert_allclose([float(s1.lambda_hat[g]) for g in TERMS], lam_hat, rtol=1e-6)
    for step in (1, 2, 4):  # off-period steps keep the weights
        np.testing.assert_array_equal(_weights(b.update(_inputs(step=step), s1)), _weights(s1))
    s2 = b.update(_inputs(step=3), s1)  # moving average of the second estimate
    np.testing.assert_allclose(_weights(s2), 0.8 * (0.8 + 0.2 * lam_hat) + 0.2 * lam_hat, rtol=1e-6)
    # equalised gradient norms: lambda_hat_i * ||g_i|| = mean ||g||
    np.testing.assert_allclose(lam_hat * NORMS, np.full(3, NORMS.mean()), rtol=1e-4)


def test_grad_norm_jits_and_scans():
    b = grad_norm(every=2, momentum=0.5)

    def body(s, step):
        s = b.update(_inputs(step=step), s)
        return s, s.weights["bc"]

    _, trace = jax.jit(lambda s: jax.lax.scan(body, s, jnp.arange(5)))(b.init(TERMS))
    lam = _by_mean(NORMS)[1]
    w1 = 0.5 + 0.5 * lam
    w2 = 0.5 * w1 + 0.5 * lam
    w3 = 0.5 * w2 + 0.5 * lam
    np.testing.assert_allclose(np.asarray(trace), [w1, w1, w2, w2, w3], rtol=1e-6)


# ---------------------------------------------------------------- ntk_trace


def test_ntk_trace_by_hand():
    b = ntk_trace(every=10, momentum=0.9)
    assert b.weights_residual
    s1 = b.update(_inputs(step=0, ntk=lambda term: NTK[term]), b.init(TERMS))
    lam_hat = _by_mean(NTK_MEANS)
    np.testing.assert_allclose(_weights(s1), 0.9 + 0.1 * lam_hat, rtol=1e-6)
    s2 = b.update(_inputs(step=20, ntk=lambda term: NTK[term]), s1)
    np.testing.assert_allclose(_weights(s2), 0.9 * (0.9 + 0.1 * lam_hat) + 0.1 * lam_hat, rtol=1e-6)


def test_ntk_diagonal_is_evaluated_only_on_update_steps():
    calls = []

    def ntk(term):
        jax.debug.callback(lambda: calls.append(term))
        return NTK[term]

    b = ntk_trace(every=3)

    def body(s, step):
        return b.update(_inputs(step=step, ntk=ntk), s), None

    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, jnp.arange(7)))(b.init(TERMS))
    jax.effects_barrier()
    assert sorted(calls) == sorted(TERMS * 3)  # steps 0, 3, 6; one diagonal per term
    lam_hat = _by_mean(NTK_MEANS)
    expected = np.ones(3)
    for _ in range(3):
        expected = 0.9 * expected + 0.1 * lam_hat
    np.testing.assert_allclose(_weights(state), expected, rtol=1e-5)


# ---------------------------------------------------------------- relobralo


def _bal(now, before, temperature):
    z = now / (temperature * before + 1e-12)
    e = np.exp(z - z.max())
    return len(now) * e / e.sum()


@pytest.mark.parametrize("alpha,temperature,rho", [(0.999, 0.1, 0.999), (0.6, 1.0, 0.5)])
def test_relobralo_by_hand(alpha, temperature, rho):
    b = relobralo(alpha=alpha, temperature=temperature, expected_rho=rho)
    assert b.weights_residual
    history = [np.array([1.0, 2.0, 4.0]), np.array([0.5, 2.0, 5.0]), np.array([0.4, 1.0, 6.0])]
    s = b.init(TERMS)
    s = b.update(_inputs(losses=history[0]), s)
    np.testing.assert_array_equal(_weights(s), np.ones(3))  # the first step records L(0)
    lam = np.ones(3)
    for t in (1, 2):
        s = b.update(_inputs(step=t, losses=history[t]), s)
        lam = alpha * (rho * lam + (1 - rho) * _bal(history[t], history[0], temperature)) + (
            1 - alpha
        ) * _bal(history[t], history[t - 1], temperature)
        np.testing.assert_allclose(_weights(s), lam, rtol=1e-5)
    np.testing.assert_allclose([float(s.initial_losses[g]) for g in TERMS], history[0])
    np.testing.assert_allclose([float(s.previous_losses[g]) for g in TERMS], history[2])


def test_relobralo_softmax_is_stable_for_large_ratios():
    b = relobralo(alpha=0.0, temperature=1e-3)
    s = b.update(_inputs(losses=(1.0, 1.0, 1.0)), b.init(TERMS))
    s = _jitted(b, _inputs(step=1, losses=(1e3, 1.0, 0.0)), s)  # exponents 1e6 and 1e3
    np.testing.assert_allclose(_weights(s), [3.0, 0.0, 0.0], atol=1e-6)


# ---------------------------------------------------------------- softadapt


@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("loss_weighted", [False, True])
def test_softadapt_by_hand(normalized, loss_weighted):
    beta = 0.7
    b = softadapt(beta=beta, normalized=normalized, loss_weighted=loss_weighted)
    assert b.weights_residual
    prev, now = np.array([2.0, 1.0, 4.0]), np.array([1.0, 1.5, 3.0])
    s = b.update(_inputs(losses=prev), b.init(TERMS))
    np.testing.assert_array_equal(_weights(s), np.ones(3))  # first step: weights 1
    s = _jitted(b, _inputs(step=1, losses=now), s)
    rates = (now - prev) / (prev if normalized else 1.0)
    e = np.exp(beta * rates) * (now if loss_weighted else 1.0)
    np.testing.assert_allclose(_weights(s), 3 * e / e.sum(), rtol=1e-5)
    np.testing.assert_allclose([float(s.previous_losses[g]) for g in TERMS], now)


def test_softadapt_equal_rates_give_weight_one_and_huge_beta_stays_finite():
    s = softadapt().update(_inputs(losses=(1.0, 2.0, 3.0)), softadapt().init(TERMS))
    b = softadapt()
    s = b.update(_inputs(step=1, losses=(0.5, 1.5, 2.5)), s)
    np.testing.assert_allclose(_weights(s), np.ones(3), rtol=1e-6)
    b = softadapt(beta=1e6)
    s = b.update(_inputs(step=1, losses=(0.0, 2.5, 2.0)), s)
    assert np.all(np.isfinite(_weights(s)))
    np.testing.assert_allclose(_weights(s), [0.0, 3.0, 0.0], atol=1e-6)


# ---------------------------------------------------------------- causal

# (t, x) points; 4 slices of [0, 1]: slice 2 is empty, t = 1.0 and t = 1.3 fall in the last
POINTS = jnp.array([[0.1, 0.0], [0.2, 0.5], [0.3, -0.5], [0.8, 0.1], [1.0, 0.2], [1.3, 0.0], [-0.2, 0.9]])
SQ = jnp.array([1.0, 3.0, 0.5, 2.0, 4.0, 6.0, 5.0])


def test_causal_point_weights_by_hand():
    eps = 0.5
    # slice 0: t = 0.1, 0.2, -0.2 -> (1 + 3 + 5)/3 = 3; slice 1: t = 0.3 -> 0.5; slice 2: empty -> 0;
    # slice 3: t = 0.8, 1.0, 1.3 -> (2 + 4 + 6)/3 = 4
    losses = np.array([3.0, 0.5, 0.0, 4.0])
    w = np.exp(-eps * np.array([0.0, 3.0, 3.5, 3.5]))
    w_k, l_k, slice_of = slice_weights(POINTS, SQ, epsilon=eps, slices=4)
    np.testing.assert_allclose(np.asarray(l_k), losses, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(w_k), w, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(slice_of), [0, 0, 1, 3, 3, 3, 0])
    b = causal(epsilon=eps, slices=4)
    assert not b.weights_residual
    state = b.init(TERMS)
    pw = jax.jit(b.point_weights)(state, POINTS, SQ)
    np.testing.assert_allclose(np.asarray(pw), w[[0, 0, 1, 3, 3, 3, 0]], rtol=1e-6)
    assert b.update(_inputs(), state) is state
    np.testing.assert_array_equal(_weights(state), np.ones(3))


def test_causal_time_axis_and_range():
    # time as the second input over [0, 2] with 2 slices: slices [0, 1) and [1, 2]
    pts = jnp.stack([POINTS[:, 1] * 0.0 + 7.0, jnp.array([0.5, 1.5, 1.0, 0.2, 2.0, 0.0, 1.9])], axis=1)
    sq = jnp.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.0, 1.0])
    w_k, l_k, _ = slice_weights(pts, sq, epsilon=2.0, slices=2, time_axis=1, t_range=(0.0, 2.0))
    np.testing.assert_allclose(np.asarray(l_k), [2.0, 2.5], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(w_k), [1.0, math.exp(-4.0)], rtol=1e-6)
    with pytest.raises(ValueError, match="time_axis"):
        causal(time_axis=2).point_weights(None, POINTS, SQ)


# ---------------------------------------------------------------- hyper-parameters


@pytest.mark.parametrize(
    "factory,kwargs,match",
    [
        (grad_norm, {"every": 0}, "`every` must be a positive number of steps, got every = 0"),
        (grad_norm, {"momentum": 1.0}, r"`momentum` must be in \[0, 1\), got momentum = 1.0"),
        (ntk_trace, {"every": -5}, "`every`"),
        (ntk_trace, {"momentum": -0.1}, "`momentum`"),
        (relobralo, {"alpha": 1.5}, r"`alpha` must be in \[0, 1\], got alpha = 1.5"),
        (relobralo, {"temperature": 0.0}, "`temperature` must be a finite number > 0"),
        (relobralo, {"expected_rho": -0.1}, "`expected_rho`"),
        (softadapt, {"beta": float("nan")}, "`beta` must be a finite number"),
        (softadapt, {"normalized": "yes"}, "`normalized` must be true or false"),
        (causal, {"epsilon": -1.0}, "`epsilon` must be a finite number >= 0, got epsilon = -1.0"),
        (causal, {"slices": 0}, "`slices` must be a positive integer"),
        (causal, {"time_axis": -1}, "`time_axis` must be an integer >= 0"),
        (causal, {"t_range": (1.0, 0.0)}, "`t_range` must be two finite numbers"),
    ],
)
def test_bad_hyper_parameters_are_refused(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


# ---------------------------------------------------------------- end to end


def _check_history(result, problem):
    h = result.history
    assert np.all(np.isfinite(h["loss"]))
    for g in ("residual", *problem.groups):
        assert np.all(np.isfinite(h[f"lambda_{g}"]))


@pytest.mark.parametrize(
    "balancer",
    [
        grad_norm(every=5),
        ntk_trace(every=5),
        relobralo(),
        softadapt(normalized=True),
    ],
    ids=["grad_norm", "ntk_trace", "relobralo", "softadapt"],
)
def test_fit_runs_with_each_balancer(balancer):
    problem = ps.get_problem("poisson1d", C=1.0)
    net = ps.MLP((1, 8, 8, 1), key=jax.random.PRNGKey(0))
    result = ps.fit(problem, net, balancer, steps=20, key=jax.random.PRNGKey(1), chunk_size=20, batch_size=16)
    _check_history(result, problem)
    assert {"lambda_residual", "lambda_bc"} <= set(result.history)
    assert result.summary["steps"] == 20


def test_fit_runs_with_causal_weights_on_burgers():
    problem = ps.get_problem("burgers")
    net = ps.MLP((2, 8, 8, 1), key=jax.random.PRNGKey(0))
    result = ps.fit(
        problem,
        net,
        causal(epsilon=1.0, slices=4),
        steps=20,
        key=jax.random.PRNGKey(1),
        chunk_size=20,
        batch_size=16,
    )
    _check_history(result, problem)
    assert result.history["lambda_residual"][-1] == 1.0 and result.history["lambda_bc"][-1] == 1.0


def test_causal_weights_enter_the_residual_loss_of_the_step():
    problem = ps.get_problem("burgers")
    net = ps.MLP((2, 8, 1), key=jax.random.PRNGKey(0))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    pts = sample_points(
        problem, jax.random.PRNGKey(2), {"residual": 32, "ic": 4, "bc_left": 4, "bc_right": 4}
    )
    b = causal(epsilon=5.0, slices=4)
    state = b.init(("residual", "ic", "bc"))
    weigh = functools.partial(b.point_weights, state)

    @jax.jit
    def residual_loss_and_squares(params):
        losses, _ = term_losses_and_gradients(problem, static, params, pts, weigh)
        res = problem.residuals(eqx.combine(params, static), pts["residual"])
        return losses["residual"], jnp.sum(res**2, axis=-1)

    loss, sq = residual_loss_and_squares(params)
    sq = np.asarray(sq)
    t = np.asarray(pts["residual"][:, 0])
    k = np.minimum((t * 4).astype(int), 3)
    slice_loss = np.array([sq[k == j].mean() if np.any(k == j) else 0.0 for j in range(4)])
    w = np.exp(-5.0 * np.concatenate([[0.0], np.cumsum(slice_loss)[:-1]]))
    np.testing.assert_allclose(float(loss), np.mean(w[k] * sq), rtol=1e-5)
    assert float(loss) < float(np.mean(sq))
