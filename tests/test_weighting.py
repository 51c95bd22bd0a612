"""The annealing update (both variants) against hand computations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.losses import term_gradients
from pinnsight.weighting import BalanceInputs

# residual kernels: max |g_r| = 4 (layer 1), 3 (layer 2)
G_R = [jnp.array([[1.0, -4.0], [2.0, 0.0]]), jnp.array([[0.5], [3.0]])]
# boundary kernels: per-layer mean |g_b| = 0.15 and 0.4; mean of layer means 0.275
G_B = [jnp.array([[0.1, -0.1], [0.2, 0.2]]), jnp.array([[0.5], [-0.3]])]


def _state(balancer, lam):
    s = balancer.init(("residual", "bc"))
    return s._replace(weights={**s.weights, "bc": jnp.asarray(lam)})


def _no_ntk(term):
    raise AssertionError("annealing does not use the NTK diagonal")


def _inputs(step):
    """What the step hands the balancer: here only the kernel gradients and the step matter."""
    return BalanceInputs(
        losses={"residual": jnp.asarray(1.0), "bc": jnp.asarray(1.0)},
        grads={"residual": G_R, "bc": G_B},
        kernels={"residual": G_R, "bc": G_B},
        step=jnp.asarray(step),
        ntk_diagonal=_no_ntk,
    )


def test_official_variant_by_hand():
    b = ps.annealing()  # weighted denominator, lambda <- 0.9 lambda + 0.1 lambda_hat
    s = b.update(_inputs(0), _state(b, 2.0))
    lam_hat = 4.0 / (2.0 * 0.275)
    np.testing.assert_allclose(s.lambda_hat["bc"], lam_hat, rtol=1e-6)
    np.testing.assert_allclose(s.weights["bc"], 0.9 * 2.0 + 0.1 * lam_hat, rtol=1e-6)


def test_paper_variant_by_hand():
    b = ps.annealing(variant="paper")  # unweighted denominator, alpha = 0.9 on the new value
    s = b.update(_inputs(0), _state(b, 2.0))
    lam_hat = 4.0 / 0.275
    np.testing.assert_allclose(s.weights["bc"], 0.1 * 2.0 + 0.9 * lam_hat, rtol=1e-6)


def test_layerwise_statistic_by_hand():
    b = ps.annealing(statistic="layerwise")
    s = b.update(_inputs(0), _state(b, 2.0))
    lam_hat = max(4.0 / (2 * 0.15), 3.0 / (2 * 0.4))
    np.testing.assert_allclose(s.weights["bc"], 0.9 * 2.0 + 0.1 * lam_hat, rtol=1e-6)


def test_layerwise_statistic_skips_layers_the_group_does_not_reach():
    # A PirateNet at initialisation has zero gradients on its block kernels: the layer's
    # 0/0 must not turn lambda into nan; the estimate is the maximum over the other layers.
    b = ps.annealing(statistic="layerwise")
    zero_first = [jnp.zeros_like(G_B[0]), G_B[1]]
    inputs = _inputs(0)._replace(
        grads={"residual": [jnp.zeros_like(G_R[0]), G_R[1]], "bc": zero_first},
        kernels={"residual": [jnp.zeros_like(G_R[0]), G_R[1]], "bc": zero_first},
    )
    s = b.update(inputs, _state(b, 2.0))
    np.testing.assert_allclose(s.weights["bc"], 0.9 * 2.0 + 0.1 * 3.0 / (2 * 0.4), rtol=1e-6)


def test_only_every_nth_step_updates():
    b = ps.annealing(every=10)
    s0 = _state(b, 2.0)
    for step in (1, 9, 11):
        s = b.update(_inputs(step), s0)
        assert float(s.weights["bc"]) == 2.0
    s = b.update(_inputs(20), s0)
    assert float(s.weights["bc"]) != 2.0


@pytest.mark.parametrize(("variant", "limit"), [("official", np.sqrt(4 / 0.275)), ("paper", 4 / 0.275)])
def test_fixed_points_sqrt_r_and_r(variant, limit):
    b = ps.annealing(variant=variant, every=1)
    update = jax.jit(lambda s, i: b.update(_inputs(i), s))
    s = b.init(("residual", "bc"))
    for i in range(300):
        s = update(s, jnp.asarray(i))
    np.testing.assert_allclose(s.weights["bc"], limit, rtol=1e-4)


def test_fixed_balancer_and_errors():
    b = ps.fixed({"bc": 3.0})
    s = b.init(("residual", "bc", "ic"))
    assert float(s.weights["bc"]) == 3.0 and float(s.weights["ic"]) == 1.0
    with pytest.raises(ValueError, match="unknown terms"):
        ps.fixed({"nope": 1.0}).init(("residual", "bc"))
    with pytest.raises(ValueError, match="unknown annealing variant 'x'; choose one of"):
        ps.annealing(variant="x")
    with pytest.raises(ValueError, match="alpha"):
        ps.annealing(alpha=1.5)
    with pytest.raises(ValueError, match="every"):
        ps.annealing(every=0)


def test_annealing_inside_training_step_on_a_tiny_net():
    """The first step's lambda equals the hand formula on that step's kernel gradients."""
    problem = ps.get_problem("helmholtz")
    net = ps.MLP((2, 4, 4, 1), key=jax.random.PRNGKey(3))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    sizes = dict.fromkeys(("residual", *problem.conditions), 16)
    key = jax.random.PRNGKey(7)
    _, sub = jax.random.split(key)
    # one compile (op by op, every operation would compile on its own)
    _, grads = jax.jit(lambda params, key: term_gradients(problem, static, params, key, sizes))(params, sub)
    gr = [np.asarray(k) for k in grads["residual"].main_kernels()]
    gb = [np.asarray(k) for k in grads["bc"].main_kernels()]
    rmax = max(np.abs(g).max() for g in gr)
    bmean = np.mean([np.abs(g).mean() for g in gb])
    expected = 0.9 * 1.0 + 0.1 * rmax / (1.0 * bmean)

    from pinnsight.sampling import uniform

    opt = ps.paper_optimizer()
    bal = ps.annealing()
    sampler = uniform(problem.domain)
    step = ps.make_step(problem, net, opt, bal, sizes, sampler)
    state = ps.init_state(problem, net, opt, bal, sampler, key)
    new, metrics = jax.jit(step)(state)
    np.testing.assert_allclose(new.balancer_state.weights["bc"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["lambda_bc"], expected, rtol=1e-5)
