"""Short training runs, determinism, divergence and the run folder."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.experiments.build import build, build_net
from pinnsight.experiments.run_folder import RunFolder, RunFolderCallback
from pinnsight.losses import relative_l2


def small_helmholtz():
    return ps.get_problem("helmholtz", a1=1.0, a2=1.0)


def test_helmholtz_residual_vanishes_for_the_exact_solution():
    problem = ps.get_problem("helmholtz")
    pts = problem.domain.sample(jax.random.PRNGKey(0), 64)
    exact_net = lambda x: jnp.atleast_1d(problem.exact(x))  # noqa: E731
    edges = {c: problem.conditions[c].sample(jax.random.PRNGKey(1), 32) for c in problem.conditions}

    @jax.jit  # one compile (op by op, every operation would compile on its own)
    def losses(pts, edges):
        conditions = {c: problem.condition_loss(c, exact_net, edge) for c, edge in edges.items()}
        return problem.residual_loss(exact_net, pts), conditions

    residual, conditions = losses(pts, edges)
    assert float(residual) < 1e-8
    assert set(conditions) == set(problem.conditions)
    for c, loss in conditions.items():
        assert float(loss) < 1e-10, c


def test_short_training_run_reduces_error_below_bound():
    """M2 on Helmholtz (a1 = a2 = 1, net 3x30), 3000 steps: error from > 0.5 to < 3e-2."""
    cfg = ps.RunConfig.create(model="M2", steps=3000, layers=(2, 30, 30, 30, 1), a1=1.0, a2=1.0)
    _, net0, _ = build(cfg)
    problem = ps.get_problem("helmholtz", a1=1.0, a2=1.0)
    ref = problem.reference_data
    initial = float(relative_l2(problem.observe(net0, jnp.asarray(ref.points)), ref.values))
    result = ps.run(cfg, progress=False)
    assert initial > 0.5
    assert result.summary["final_error"] < 3e-2
    assert result.summary["final_lambda"]["bc"] > 1.0


def test_same_seed_same_numbers_and_different_seed_differs():
    cfg = ps.RunConfig.create(model="M4", steps=60, chunk_size=30, layers=(2, 8, 8, 1))
    a = ps.run(cfg, progress=False)
    b = ps.run(cfg, progress=False)
    c = ps.run(cfg.override(seed=1), progress=False)
    la, lb = jax.tree_util.tree_leaves(a.net), jax.tree_util.tree_leaves(b.net)
    assert all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))
    assert a.summary["final_error"] == b.summary["final_error"]
    assert a.summary["final_error"] != c.summary["final_error"]


def test_x64_switch_trains_in_float64():
    cfg = ps.RunConfig.create(steps=10, chunk_size=10, layers=(2, 8, 1), x64=True)
    result = ps.run(cfg, progress=False)
    assert result.net.kernels[0].dtype == jnp.float64
    assert jnp.zeros(1).dtype == jnp.float32  # the switch does not leak


def test_run_folder_contents_and_reload(tmp_path):
    cfg = ps.RunConfig.create(model="M2", steps=40, chunk_size=20, layers=(2, 8, 8, 1))
    result = ps.run(cfg, tmp_path / "run", progress=False)
    for f in ("config.json", "metrics.csv", "model.eqx", "summary.json"):
        assert (tmp_path / "run" / f).exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 40
    cfg2, problem, net = ps.load_run(tmp_path / "run")
    assert cfg2 == cfg
    x = jnp.array([0.1, 0.2])
    np.testing.assert_array_equal(net(x), result.net(x))


def test_refuses_a_folder_that_holds_a_run(tmp_path):
    cfg = ps.RunConfig.create(steps=10, chunk_size=10, layers=(2, 8, 1))
    ps.run(cfg, tmp_path, progress=False)
    before = (tmp_path / "metrics.csv").read_text()
    with pytest.raises(FileExistsError, match="already holds a run.*--overwrite"):
        ps.run(cfg, tmp_path, progress=False)
    assert (tmp_path / "metrics.csv").read_text() == before
    ps.run(cfg.override(steps=20), tmp_path, overwrite=True, progress=False)
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 20


def test_non_positive_steps():
    problem = small_helmholtz()
    net = ps.MLP((2, 20, 20, 1), key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="`steps` must be a positive"):
        ps.fit(problem, net, steps=0, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"`run\.steps` must be >= 1, got run\.steps = -5"):
        ps.RunConfig.create(steps=-5)


def _blowup_problem():
    """u is driven towards 2; the misfit sqrt(1 - u) is NaN once u passes 1."""
    box = ps.Box((0.0,), (1.0,))
    return ps.Problem(
        name="blowup",
        domain=box,
        residual=lambda u, x: u(x) - 2.0,
        conditions={"c": ps.Condition(box, lambda u, x: 0.0 * jnp.sqrt(1.0 - u(x)))},
        exact=lambda x: jnp.full((1,), 2.0),
    )


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path):
    problem = _blowup_problem()
    net = ps.MLP((1, 8, 1), key=jax.random.PRNGKey(0))
    opt = ps.paper_optimizer(learning_rate=1e-3)
    folder = RunFolderCallback(RunFolder.create(tmp_path), {"problem": problem.name})
    with pytest.raises(ps.DivergenceError, match=r"at step \d+.*last good state \(step \d+\)"):
        ps.fit(
            problem,
            net,
            steps=5000,
            key=jax.random.PRNGKey(0),
            optimizer=opt,
            chunk_size=20,
            callbacks=[folder],
        )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged"
    good = eqx.tree_deserialise_leaves(tmp_path / "model.eqx", net)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(good))
    # the checkpoint is the state at the end of the last finite chunk
    assert summary["steps"] % 20 == 0 and summary["steps"] > 0


def test_problem_shape_errors_are_clear():
    box = ps.Box((0.0, 0.0), (1.0, 1.0))
    bad = ps.Problem(
        name="bad",
        domain=box,
        residual=lambda u, x: jnp.ones((2, 2)) * u(x),
        conditions={},
        exact=lambda x: x[0],
    )
    net = ps.MLP((2, 4, 1), key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"residual\(u, x\) must return a scalar or a 1-D"):
        ps.fit(bad, net, steps=1, key=jax.random.PRNGKey(0))
    # layers live with the network now: sizes that do not fit the problem are refused when
    # the network is built from a config, and `fit` refuses a network of the wrong input size
    p = ps.Problem(name="p", domain=box, residual=lambda u, x: u(x), conditions={}, exact=lambda x: x[0])
    with pytest.raises(ValueError, match=r"net\.layers \(3, 4, 1\) do not fit problem 'p'"):
        build_net(ps.RunConfig.create(layers=(3, 4, 1)), p, jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match=r"failed on one point of shape \(2,\)"):
        ps.fit(p, ps.MLP((3, 4, 1), key=jax.random.PRNGKey(0)), steps=1, key=jax.random.PRNGKey(0))


def test_chunks_compile_once():
    """The residual is traced a fixed number of times, however many chunks run."""
    calls = {"n": 0}
    base = ps.get_problem("helmholtz")

    def counting_residual(u, x):
        calls["n"] += 1
        return base.residual(u, x)

    import dataclasses

    problem = dataclasses.replace(base, residual=counting_residual)
    net = ps.MLP((2, 6, 1), key=jax.random.PRNGKey(0))
    traces = []
    for steps in (20, 60):
        calls["n"] = 0
        ps.fit(problem, net, steps=steps, key=jax.random.PRNGKey(0), chunk_size=10)
        traces.append(calls["n"])
    assert traces[0] == traces[1] > 0
