"""Measurements and inverse problems: the observation term and trainable PDE coefficients."""

import csv
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.coefficients import WithCoefficients, attach_coefficients, coefficient_values
from pinnsight.losses import ntk_diagonal, sample_points, term_losses_and_gradients

K_TRUE = 2.0


def _toy(k_init=1.5, n_obs=31, whole=True, with_bc=False):
    """u'' = -k^2 sin(kx) on [0, 3] with k unknown; observations of sin(2x)."""
    box = ps.Box((0.0,), (3.0,))
    xs = np.linspace(0.0, 3.0, n_obs)[:, None]
    conditions = {"data": ps.Observations.from_arrays(xs, np.sin(K_TRUE * xs), whole=whole)}
    if with_bc:
        conditions["bc"] = ps.Condition(box.face("x", "lo"), lambda u, x: u(x))
    problem = ps.Problem(
        name="toy_inverse",
        domain=box,
        residual=lambda u, x, c: ps.laplacian(u)(x) + c["k"] ** 2 * jnp.sin(c["k"] * x[0]),
        conditions=conditions,
        coefficients={"k": ps.Coefficient(k_init, positive=True, true=K_TRUE)},
        exact=lambda x: jnp.sin(K_TRUE * x),
    )
    net = ps.MLP((1, 16, 16, 1), key=jax.random.PRNGKey(0), shift=(1.5,), scale=(0.87,))
    return problem, net


# -- the observation term -----------------------------------------------------------------


def test_observation_loss_is_the_mean_squared_misfit_by_hand():
    rng = np.random.default_rng(0)
    pts, vals = rng.uniform(-1, 1, (20, 2)), rng.normal(size=(20, 2))
    box = ps.Box((-1.0, -1.0), (1.0, 1.0))
    net = ps.MLP((2, 8, 2), key=jax.random.PRNGKey(3))
    pred = np.asarray(jax.vmap(net)(jnp.asarray(pts, jnp.float32)), np.float64)
    for whole in (True, False):
        obs = ps.Observations(pts, vals, whole=whole)
        problem = ps.Problem(
            name="obs",
            domain=box,
            residual=lambda u, x: u(x)[0],
            conditions={"data": obs},
            output_dim=2,
            exact=lambda x: x,
        )
        rows = np.asarray(problem.conditions["data"].sample(jax.random.PRNGKey(1), 7))
        assert rows.shape == ((20, 4) if whole else (7, 4))
        idx = [int(np.flatnonzero(np.all(np.isclose(pts, r[:2]), axis=1))[0]) for r in rows]
        np.testing.assert_allclose(rows[:, 2:], vals[idx], rtol=1e-6)  # each row carries its own values
        want = np.mean(np.sum((pred[idx] - vals[idx]) ** 2, axis=1))
        got = jax.jit(functools.partial(problem.condition_loss, "data"))(net, jnp.asarray(rows))
        np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_observations_are_a_term_of_ntk_and_gradients():
    problem, net = _toy(with_bc=True, whole=False)
    assert problem.groups == ("data", "bc")
    net = attach_coefficients(problem.coefficients, net)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    pts = sample_points(problem, jax.random.PRNGKey(2), {"residual": 5, "data": 6, "bc": 1})
    assert pts["data"].shape == (6, 2)  # a row: the point and its value

    @jax.jit
    def probe(params, pts):
        ntk = {t: ntk_diagonal(problem, static, params, pts, t) for t in ("residual", "data")}
        return ntk, *term_losses_and_gradients(problem, static, params, pts)

    ntk, losses, grads = probe(params, pts)
    assert ntk["data"].shape == (6,) and ntk["residual"].shape == (5,)
    assert set(losses) == {"residual", "data", "bc"}
    assert float(jnp.abs(grads["residual"].raw["k"])) > 0 and float(grads["data"].raw["k"]) == 0


# -- trainable coefficients -----------------------------------------------------------------


def test_a_coefficient_is_learned_to_1e_3():
    problem, net = _toy()
    r = ps.fit(
        problem,
        net,
        steps=3000,
        key=jax.random.PRNGKey(1),
        chunk_size=1000,
        batch_size={"residual": 256, "data": 1},
        optimizer=ps.paper_optimizer(1e-2, 0.1, 3000),
    )
    k = coefficient_values(r.net)["k"]
    assert abs(k - K_TRUE) < 1e-3, k  # from 1.5
    assert r.summary["final_coefficients"]["k"] == pytest.approx(k)


def test_a_run_with_observations_and_a_coefficient_resumes_bit_identically():
    """The coefficient lives in the parameters (state, checkpoint, resume); the data term is a
    term like any other for the gradient statistics."""
    problem, net = _toy(whole=False)
    kw = dict(chunk_size=10, batch_size={"residual": 16, "data": 8})
    key = jax.random.PRNGKey(5)
    full = ps.fit(problem, net, steps=20, key=key, **kw)
    half = ps.fit(problem, net, steps=10, key=key, **kw)
    resumed = ps.fit(problem, net, steps=20, key=key, state=half.state, **kw)
    assert isinstance(full.net, WithCoefficients) and "k" in half.state.params.raw
    for a, b in zip(jax.tree_util.tree_leaves(full.net), jax.tree_util.tree_leaves(resumed.net), strict=True):
        assert np.array_equal(a, b)
    assert full.history["coef_k"][-1] == resumed.history["coef_k"][-1] != half.history["coef_k"][-1]
    for col in ("loss_data", "lambda_data", "imbalance_data", "gmax_data"):
        assert col in full.history and np.all(np.isfinite(full.history[col])), col
    assert full.net.main_kernels() == full.net.net.main_kernels()


def test_bad_coefficients_and_a_bare_network_are_refused():
    with pytest.raises(ValueError, match="positive Coefficient needs an initial guess > 0"):
        ps.Coefficient(-1.0, positive=True)
    with pytest.raises(ValueError, match="finite number"):
        ps.Coefficient(float("nan"))
    problem, net = _toy()
    with pytest.raises(TypeError, match="trainable coefficients"):
        problem.residuals(net, jnp.zeros((3, 1)))


# -- bad data ---------------------------------------------------------------------------------


def test_bad_data_gets_one_clear_line(tmp_path):
    box = ps.Box((0.0, -1.0), (1.0, 1.0), names=("t", "x"))

    def problem_with(obs):
        return ps.Problem(
            name="p", domain=box, residual=lambda u, x: u(x), conditions={"data": obs}, exact=lambda x: x[:1]
        )

    with pytest.raises(ValueError, match=r"10 points but 9 values"):
        ps.Observations(np.zeros((10, 2)), np.zeros((9, 1)))
    nan = np.zeros((10, 1))
    nan[4] = np.nan
    with pytest.raises(ValueError, match=r"1 row\(s\) of values hold NaN .*first: row 4"):
        ps.Observations(np.zeros((10, 2)), nan)
    with pytest.raises(
        ValueError,
        match=r"'data' .*2 point\(s\) outside the domain \[0, 1\] x \[-1, 1\] "
        r"\(first: row 1, t=1.5, x=0\)",
    ):
        problem_with(ps.Observations([[0.5, 0.0], [1.5, 0.0], [0.2, -3.0]], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"points have 3 coordinate\(s\), the domain 2"):
        problem_with(ps.Observations(np.zeros((2, 3)), np.zeros(2)))
    path = tmp_path / "data.csv"
    path.write_text("x,t,u\n0.5,0.1,1.0\n-0.5,0.2,2.0\n")
    with pytest.raises(ValueError, match=r"data.csv: no column 'v'; columns: x, t, u"):
        ps.Observations.from_csv(path, inputs=("t", "x"), outputs=("v",))
    np.savez(tmp_path / "data.npz", t=[0.1, 0.2], x=[0.5, -0.5], u=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"data.npz: no column 'y'; columns: "):
        ps.Observations.from_npz(tmp_path / "data.npz", inputs=("t", "y"), outputs=("u",))
    (tmp_path / "bad.csv").write_text("t,x,u\n0.1,0.5,oops\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 2, column 'u': 'oops' is not a number"):
        ps.Observations.from_csv(tmp_path / "bad.csv", inputs=("t", "x"), outputs=("u",))
    (tmp_path / "gap.csv").write_text("t,x,u\n0.1,0.5,\n")
    with pytest.raises(ValueError, match="NaN"):
        ps.Observations.from_csv(tmp_path / "gap.csv", inputs=("t", "x"), outputs=("u",))


def test_csv_and_npz_columns_are_read_by_name(tmp_path):
    rows = [[0.5, 0.1, 1.0], [-0.5, 0.2, 2.0]]
    with (tmp_path / "d.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["x", "t", "u"], *rows])
    np.savez(tmp_path / "d.npz", x=[0.5, -0.5], t=[0.1, 0.2], u=[1.0, 2.0])
    for obs in (
        ps.Observations.from_csv(tmp_path / "d.csv", inputs=("t", "x"), outputs=("u",)),
        ps.Observations.from_npz(tmp_path / "d.npz", inputs=("t", "x"), outputs=("u",)),
    ):
        np.testing.assert_array_equal(obs.points, [[0.1, 0.5], [0.2, -0.5]])
        np.testing.assert_array_equal(obs.values, [[1.0], [2.0]])
        assert len(obs) == 2 and obs.group == "data"


# -- the built-in problem, its run folder and report --------------------------------------------


def test_burgers_inverse_runs_logs_checkpoints_and_reports_its_coefficients(tmp_path):
    from pinnsight.problems.burgers_inverse import observations
    from pinnsight.report.run_report import render_run

    (p0, clean), (p1, noisy) = observations(500, 0.0, 3), observations(500, 0.01, 3)
    np.testing.assert_array_equal(p0, p1)
    assert np.std(noisy - clean) == pytest.approx(0.01 * np.std(clean), rel=0.1)
    cfg = ps.RunConfig.create(
        problem="burgers_inverse",
        **{
            "problem.noise": 0.01,
            "problem.n_data": 200,
            "net.layers": (2, 8, 8, 1),
            "run.steps": 6,
            "run.chunk_size": 3,
            "weighting.kind": "annealing",
            "weighting.every": 2,
            "sampling.batch_size": {"residual": 32},
        },
    )
    r = ps.run(cfg, out_dir=tmp_path / "run", progress=False)
    config, problem, net = ps.load_run(tmp_path / "run")
    assert coefficient_values(net) == pytest.approx(r.summary["final_coefficients"], rel=1e-6)
    assert set(problem.coefficients) == {"lambda1", "nu"} and problem.groups == ("data",)
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"coef_lambda1", "coef_nu", "loss_data", "lambda_data", "imbalance_data"} <= set(header)
    assert r.history["lambda_data"][-1] != 1.0  # annealing weighs the data term like any other
    report = render_run(tmp_path / "run").read_text()
    assert (tmp_path / "run" / "coefficients.png").exists() and "coefficient nu" in report
