"""Cheap evaluation: the per-chunk error on a fixed subsample, the final error on the whole
reference (`pinnsight.train.eval_subsample`, ``fit(eval_points=...)``, ``run.eval_points``)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight import train
from pinnsight.losses import relative_l2
from pinnsight.train import DEFAULT_EVAL_POINTS, eval_subsample

STEPS, CHUNK, POINTS = 60, 20, 50


class _Params(ps.callbacks.Callback):
    """Keeps the parameters after every chunk."""

    def __init__(self):
        self.params = []

    def on_chunk(self, ctx, row):
        self.params.append(ctx.state.params)


@pytest.fixture(scope="module")
def trained():
    """One run of poisson1d (a 1000-point reference) through the config tree, error after each
    chunk on ``run.eval_points`` = 50 points, parameters kept after every chunk."""
    cfg = ps.RunConfig.create(
        problem="poisson1d",
        C=2.0,
        steps=STEPS,
        chunk_size=CHUNK,
        batch_size=16,
        **{"net.layers": (1, 8, 8, 1), "run.eval_points": POINTS},
    )
    seen = _Params()
    result = ps.run(cfg, progress=False, callbacks=[seen])
    return ps.get_problem("poisson1d", C=2.0), result, seen.params


def _full_grid_error(problem, net) -> float:
    """The relative L2 error on the whole reference, jitted as `fit` does (the reference as
    constants of the compiled function)."""
    ref = problem.reference_data
    pts, vals = jnp.asarray(ref.points, jnp.float32), jnp.asarray(ref.values, jnp.float32)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    error_of = jax.jit(lambda p: relative_l2(problem.observe(eqx.combine(p, static), pts), vals))
    return float(error_of(params))


def test_the_subsample_is_fixed_sorted_and_distinct():
    a, b = eval_subsample(10_000, 300), eval_subsample(10_000, 300)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 300 and np.all(np.diff(a) > 0) and a[0] >= 0 and a[-1] < 10_000
    assert eval_subsample(300, 300) is None and eval_subsample(10, 0) is None
    assert eval_subsample(10, None) is None
    assert DEFAULT_EVAL_POINTS == ps.RunConfig.create().run.eval_points == 4096
    assert ps.RunConfig.create(**{"run.eval_points": 0}).run.eval_points == 0
    with pytest.raises(ValueError, match="eval_points"):
        ps.RunConfig.create(**{"run.eval_points": -1})


def test_zero_or_none_evaluates_the_whole_reference_every_chunk():
    problem = ps.get_problem("poisson1d")

    def error_of(params):
        return 0.0

    compiled = train._Compiled(None, None, error_of, None)
    for n in (0, None, 1000, 5000):
        got = train._with_evaluation(compiled, problem, None, n)
        assert got.chunk_error_of is error_of and got.error_points == 1000
    got = train._with_evaluation(compiled, problem, None, 999)
    assert got.chunk_error_of is not error_of and got.error_points == 999


def test_final_error_is_the_full_grid_error(trained):
    problem, result, _ = trained
    # the same bits as a whole-grid evaluation, compiled as the chunks' error used to be
    assert result.summary["final_error"] == _full_grid_error(problem, result.net)
    assert result.summary["eval_points"] == POINTS


def test_chunk_errors_use_the_fixed_subsample(trained):
    problem, result, params = trained
    ref = problem.reference_data
    idx = eval_subsample(len(ref.points), POINTS)
    static = eqx.partition(result.net, eqx.is_inexact_array)[1]
    nets = [eqx.combine(p, static) for p in params]
    want = [float(relative_l2(problem.observe(n, ref.points[idx]), ref.values[idx])) for n in nets]
    assert len(want) == STEPS // CHUNK
    np.testing.assert_allclose(result.history["error"], want, rtol=1e-5)
    assert list(result.history["error_points"]) == [POINTS] * len(want)
    # a subsample estimate, not the full-grid value
    assert result.history["error"][-1] != result.summary["final_error"]
    assert result.history["error"][-1] == pytest.approx(result.summary["final_error"], rel=0.5)


def test_the_summary_reports_the_share_of_evaluation_and_logging(trained):
    s = trained[1].summary
    assert 0 < s["eval_log_time_s"] < s["wall_time_s"] and 0 < s["eval_log_share"] < 1
    assert s["eval_log_share"] == pytest.approx(s["eval_log_time_s"] / s["wall_time_s"])


def test_bad_eval_points_are_refused():
    problem = ps.get_problem("poisson1d")
    net = ps.MLP((1, 4, 1), key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="eval_points"):
        ps.fit(problem, net, steps=1, key=jax.random.PRNGKey(0), eval_points=-3)
