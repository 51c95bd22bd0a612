"""The core after "Open the core": pinned trajectories, and one toy per seam.

The pinned values were recorded with the code *before* the refactor (commit a45783f):
float hex strings of the logged loss at each chunk end, the final error, the final λ and
the sum of all parameters after training. Any change of arithmetic in the step shows here.

XLA compiles for the CPU it runs on and splits large sums by its thread count, so the bits
depend on the machine and on the cores the process may use: each trajectory is pinned once
per set-up it was recorded on, each record made by a45783f there: (1) the development
machine of 2026-11-27, 2 cores; (2) the machine of 2026-12-06 (AMD EPYC, AVX2 and FMA, no
AVX-512), pinned to one core (`taskset -c 1`); (3) that machine on its 2 cores, as CI runs
the suite. On (2) and (3) HEAD and a45783f agree bit for bit. A run must reproduce one
record whole.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnsight as ps
from pinnsight.weighting import RESIDUAL

PINNED = {
    "helmholtz_M2": (
        dict(problem="helmholtz", recipe="M2", steps=300, chunk_size=100),
        [
            {
                "loss": ["0x1.b5e9700000000p+12", "0x1.b4eace0000000p+12", "0x1.8809700000000p+12"],
                "error": "0x1.0ec2440000000p+0",
                "param_sum": "-0x1.a8fb5466d2000p+2",
                "lambda": {"bc": "0x1.e71c720000000p+4"},
            },
            {
                "loss": ["0x1.b5e9700000000p+12", "0x1.b4eace0000000p+12", "0x1.8809700000000p+12"],
                "error": "0x1.0ec2440000000p+0",
                "param_sum": "-0x1.a8fb3efc02000p+2",
                "lambda": {"bc": "0x1.e71c740000000p+4"},
            },
            {
                "loss": ["0x1.b5e9700000000p+12", "0x1.b4eace0000000p+12", "0x1.8809700000000p+12"],
                "error": "0x1.0ec2440000000p+0",
                "param_sum": "-0x1.a8fb4ef24e000p+2",
                "lambda": {"bc": "0x1.e71c720000000p+4"},
            },
        ],
    ),
    "burgers_M2_rad": (
        dict(
            problem="burgers",
            recipe="M2",
            steps=200,
            chunk_size=100,
            sampling="rad",
            batch_size={"residual": 256},
        ),
        [
            {
                "loss": ["0x1.b24afc0000000p-2", "0x1.12ec400000000p-1"],
                "error": "0x1.d20f820000000p-2",
                "param_sum": "-0x1.c2fa11c195e80p+3",
                "lambda": {"ic": "0x1.627ee80000000p+2", "bc": "0x1.d1fe340000000p+2"},
            },
            {
                "loss": ["0x1.b234640000000p-2", "0x1.1161980000000p-1"],
                "error": "0x1.d1f5e00000000p-2",
                "param_sum": "-0x1.c32f4cb991400p+3",
                "lambda": {"ic": "0x1.6065480000000p+2", "bc": "0x1.d07e300000000p+2"},
            },
            {
                "loss": ["0x1.b234680000000p-2", "0x1.1161960000000p-1"],
                "error": "0x1.d1f5e40000000p-2",
                "param_sum": "-0x1.c32f4cc543400p+3",
                "lambda": {"ic": "0x1.60653e0000000p+2", "bc": "0x1.d07e460000000p+2"},
            },
        ],
    ),
}


@pytest.mark.parametrize("name", list(PINNED))
def test_trajectory_is_bit_identical_to_the_pre_refactor_code(name):
    kw, records = PINNED[name]
    r = ps.run(ps.RunConfig.create(**kw), progress=False)
    leaves = jax.tree_util.tree_leaves(r.net)
    got = {
        "loss": [float(v).hex() for v in r.history["loss"]],
        "error": float(r.summary["final_error"]).hex(),
        "param_sum": float(sum(np.asarray(x, np.float64).sum() for x in leaves)).hex(),
        "lambda": {k: float(v).hex() for k, v in r.summary["final_lambda"].items()},
    }
    assert got in records, f"{got} is none of the pre-refactor records {records}"


def _tiny_poisson():
    return ps.get_problem("poisson1d", C=1.0), ps.MLP((1, 8, 8, 1), key=jax.random.PRNGKey(0))


def _residual_weighting_balancer(weight: float) -> ps.Balancer:
    """A toy of the next issue: it weights the residual too (λ_r = weight, λ_g = 1)."""

    def init(terms):
        return ps.weighting.FixedState({t: jnp.asarray(1.0) for t in terms})

    def update(inputs, state):
        assert set(inputs.losses) == set(state.weights) == {RESIDUAL, "bc"}
        assert set(inputs.grads) == set(inputs.kernels) == set(state.weights)
        w = dict(state.weights)
        w[RESIDUAL] = jnp.asarray(weight) + 0.0 * inputs.losses[RESIDUAL]
        return ps.weighting.FixedState(w)

    return ps.Balancer(init, update, weights_residual=True)


def test_a_balancer_can_weight_the_residual():
    problem, net = _tiny_poisson()
    key = jax.random.PRNGKey(3)
    zero = ps.fit(problem, net, _residual_weighting_balancer(0.0), steps=30, key=key, chunk_size=30)
    one = ps.fit(problem, net, _residual_weighting_balancer(1.0), steps=30, key=key, chunk_size=30)
    plain = ps.fit(problem, net, ps.fixed(), steps=30, key=key, chunk_size=30)
    assert zero.history["lambda_residual"][-1] == 0.0
    # λ_r = 0: only the boundary term trains, so the total loss equals the weighted bc loss
    bc = zero.history["loss_bc_lo"][-1] + zero.history["loss_bc_hi"][-1]
    assert zero.history["loss"][-1] == pytest.approx(bc)
    # λ_r = 1 multiplies by one: the same numbers as the unweighted fixed balancer (to round-off)
    np.testing.assert_allclose(one.history["loss"], plain.history["loss"], rtol=1e-5)


def test_ntk_diagonal_is_available_to_a_balancer_on_demand():
    problem, net = _tiny_poisson()
    seen = {}

    def update(inputs, state):
        seen["shape"] = inputs.ntk_diagonal(RESIDUAL).shape, inputs.ntk_diagonal("bc").shape
        return state

    bal = ps.Balancer(ps.fixed().init, update)
    ps.fit(problem, net, bal, steps=2, key=jax.random.PRNGKey(0), batch_size=16, chunk_size=2)
    assert seen["shape"] == ((16,), (32,))  # poisson1d has two boundary conditions of 16 points


def test_ntk_diagonal_matches_a_dense_jacobian():
    from jax.flatten_util import ravel_pytree

    from pinnsight.losses import ntk_diagonal

    problem, net = _tiny_poisson()
    params, static = __import__("equinox").partition(net, __import__("equinox").is_inexact_array)
    pts = {RESIDUAL: jnp.linspace(0.1, 0.9, 5)[:, None]}
    flat, unravel = ravel_pytree(params)

    def res(f, x):
        n = __import__("equinox").combine(unravel(f), static)
        return problem.residual(problem.point_function(n), x)

    @jax.jit  # one compile (op by op, every operation would compile on its own)
    def computed(params, flat, pts):
        jac = jax.vmap(lambda x: jax.jacrev(res)(flat, x))(pts[RESIDUAL])
        return ntk_diagonal(problem, static, params, pts, RESIDUAL), jac

    diagonal, jac = computed(params, flat, pts)
    np.testing.assert_allclose(diagonal, jnp.sum(jac**2, -1), rtol=1e-5)


class Affine(ps.AbstractNetwork):
    """u(x) = a x + b: the loss below is then an exact quadratic in (a, b)."""

    a: jax.Array
    b: jax.Array

    def __call__(self, x):
        return self.a * x + self.b

    def main_kernels(self):
        return [self.a[None, :]]


def _quadratic_problem():
    """Fit u(x) = 2x + 1 by its residual and a condition at x = 0: minimum 0 at (a, b) = (2, 1)."""
    box = ps.Box((0.0,), (1.0,))
    return ps.Problem(
        name="quadratic",
        domain=box,
        residual=lambda u, x: u(x) - (2.0 * x[0] + 1.0),
        conditions={"left": ps.Condition(box.face("x", "lo"), lambda u, x: u(x) - 1.0)},
        exact=lambda x: 2.0 * x[0] + 1.0,
    )


def test_lbfgs_runs_through_fit_and_solves_a_quadratic():
    problem = _quadratic_problem()
    net = Affine(jnp.array([-3.0]), jnp.array([5.0]))
    r = ps.fit(
        problem,
        net,
        steps=20,
        key=jax.random.PRNGKey(0),
        optimizer=optax.lbfgs(),
        fixed_from=0,
        chunk_size=1,
        batch_size=8,
    )
    assert r.history["loss"][0] > 1.0
    assert r.history["loss"][-1] < 1e-10


def test_switch_from_adam_to_lbfgs_at_a_step():
    problem, net = _tiny_poisson()
    opt = ps.switch_at(optax.adam(1e-3), optax.lbfgs(), 50)
    r = ps.fit(
        problem,
        net,
        steps=80,
        key=jax.random.PRNGKey(0),
        optimizer=opt,
        fixed_from=50,
        chunk_size=10,
        batch_size=32,
    )
    loss = r.history["loss"]
    assert int(r.state.opt_state.count) == 80
    # 50 Adam steps at lr 1e-3 barely move the loss; 30 L-BFGS steps on fixed points cut it a lot
    assert loss[-1] < 0.1 * loss[4]


def test_fixed_from_freezes_the_points():
    problem, net = _tiny_poisson()
    opt = optax.sgd(0.0)  # parameters never move: the loss changes only if the points do
    r = ps.fit(problem, net, steps=6, key=jax.random.PRNGKey(0), optimizer=opt, fixed_from=3, chunk_size=1)
    loss = r.history["loss"]
    assert len(set(loss[:3].tolist())) == 3 and len(set(loss[3:].tolist())) == 1


def test_fit_writes_nothing_and_callbacks_see_every_chunk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem, net = _tiny_poisson()
    seen = []

    class Spy(ps.Callback):
        def on_start(self, ctx):
            seen.append(("start", ctx.done))

        def on_chunk(self, ctx, row):
            seen.append(("chunk", ctx.done, row["step"]))

        def on_end(self, ctx, summary):
            seen.append(("end", summary["status"], summary["steps"]))

    ps.fit(problem, net, steps=25, key=jax.random.PRNGKey(0), chunk_size=10, callbacks=[Spy()])
    assert seen == [
        ("start", 0),
        ("chunk", 10, 10),
        ("chunk", 20, 20),
        ("chunk", 25, 25),
        ("end", "finished", 25),
    ]
    assert list(tmp_path.iterdir()) == []


def test_init_state_and_make_step_are_public_and_resume_continues_the_same_trajectory():
    problem, net = _tiny_poisson()
    key = jax.random.PRNGKey(5)
    full = ps.fit(problem, net, steps=40, key=key, chunk_size=20)
    half = ps.fit(problem, net, steps=20, key=key, chunk_size=20)
    resumed = ps.fit(problem, net, steps=40, key=key, chunk_size=20, state=half.state)
    for a, b in zip(jax.tree_util.tree_leaves(full.net), jax.tree_util.tree_leaves(resumed.net), strict=True):
        assert np.array_equal(a, b)
    state = ps.init_state(
        problem, net, ps.paper_optimizer(), ps.fixed(), ps.sampling.uniform(problem.domain), key
    )
    step = ps.make_step(
        problem, net, ps.paper_optimizer(), ps.fixed(), {"residual": 8, "bc_lo": 8, "bc_hi": 8}
    )
    new, metrics = jax.jit(step)(state)
    assert int(new.step) == 1 and set(metrics) >= {"loss", "loss_residual", "lambda_bc"}


def test_tensorboard_callback_writes_events(tmp_path):
    pytest.importorskip("tensorboardX")
    problem, net = _tiny_poisson()
    ps.fit(
        problem, net, steps=10, key=jax.random.PRNGKey(0), chunk_size=5, callbacks=[ps.TensorBoard(tmp_path)]
    )
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_a_network_without_the_protocol_is_refused_clearly():
    problem, _ = _tiny_poisson()
    with pytest.raises(TypeError, match="main_kernels"):
        ps.fit(problem, lambda x: x, steps=1, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"to shape \(2,\)"):
        ps.fit(problem, ps.MLP((1, 4, 2), key=jax.random.PRNGKey(0)), steps=1, key=jax.random.PRNGKey(0))
