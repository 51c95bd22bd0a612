"""Residual-point samplers: the RAD distribution against a hand computation, and in training."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.experiments.build import build
from pinnsight.experiments.parallel import Job, finished_summary
from pinnsight.geometry import Box
from pinnsight.sampling import rad, uniform


def test_rad_draws_with_the_stated_probabilities():
    """p_j = (|r_j|^k / mean|r|^k + c) / sum, here for 5 pool points and k = 2, c = 0.5."""
    box = Box((0.0,), (1.0,))
    norms = jnp.array([0.0, 1.0, 2.0, 3.0, 0.5])
    sampler = rad(box, pool=5, k=2.0, c=0.5)
    state = sampler.refresh(lambda pts: norms, jax.random.PRNGKey(0), sampler.init())
    rk = np.asarray(norms) ** 2
    p = rk / rk.mean() + 0.5
    p = p / p.sum()
    draws = sampler.draw(state, jax.random.PRNGKey(1), 400_000)
    # map each drawn point back to its pool index
    idx = np.argmin(np.abs(np.asarray(draws)[:, :1] - np.asarray(state.points)[:, 0][None, :]), axis=1)
    freq = np.bincount(idx, minlength=5) / idx.size
    np.testing.assert_allclose(freq, p, atol=3e-3)
    assert np.all((np.asarray(draws) >= 0.0) & (np.asarray(draws) <= 1.0))


def test_uniform_sampler_is_the_default_stream():
    """`sampler=uniform(...)` is exactly the paper's default: same numbers, bit for bit."""
    problem = ps.get_problem("helmholtz", a1=1.0, a2=1.0)
    cfg = ps.RunConfig.create(steps=40, chunk_size=20, layers=(2, 8, 1), a1=1.0, a2=1.0)
    _, net, key = build(cfg)
    a = ps.fit(problem, net, steps=40, key=key, chunk_size=20)
    b = ps.fit(problem, net, steps=40, key=key, chunk_size=20, sampler=uniform(problem.domain))
    for x, y in zip(jax.tree_util.tree_leaves(a.net), jax.tree_util.tree_leaves(b.net), strict=True):
        assert np.array_equal(x, y)


def test_rad_training_refreshes_the_pool_from_the_residual():
    cfg = ps.RunConfig.create(steps=60, chunk_size=30, layers=(2, 8, 1), sampling="rad", rad_pool=256, a2=1.0)
    result = ps.run(cfg, progress=False)
    pool = result.state.sampler_state
    assert pool.points.shape == (256, 2)
    cdf = np.asarray(pool.cdf)
    assert np.all(np.diff(cdf) > 0) and cdf[-1] == pytest.approx(1.0)
    # the refreshed pool is not uniform: the step sizes of the cdf follow |r|
    assert np.diff(cdf).max() > 1.5 * np.diff(cdf).min()
    assert np.isfinite(result.summary["final_error"])


def test_sampling_and_batch_size_config_errors():
    with pytest.raises(ValueError, match="unknown sampling.kind 'gauss'"):
        ps.RunConfig.create(sampling="gauss")
    with pytest.raises(ValueError, match=r"sampling.kind 'rad': need k >= 0 and c > 0"):
        ps.RunConfig.create(sampling="rad", rad_c=0.0)
    with pytest.raises(
        ValueError, match=r"sampling\.batch_size` must be >= 1, got sampling\.batch_size = \{'residual': 0\}"
    ):
        ps.RunConfig.create(batch_size={"residual": 0})
    parsed = ps.RunConfig.create().with_assignments(["batch_size={'residual': 512}", "sampling=rad"])
    assert parsed.sampling.batch_size == {"residual": 512} and parsed.sampling.kind == "rad"
    cfg = ps.RunConfig.create(batch_size={"residual": 64}, steps=2, chunk_size=2, layers=(2, 4, 1))
    assert ps.run(cfg, progress=False).summary["status"] == "finished"
    with pytest.raises(ValueError, match="unknown terms"):
        ps.run(cfg.override(batch_size={"interior": 64}), progress=False)


def _as_written_by_0_1(cfg):
    """The flat ``config.json`` pinnsight 0.1 wrote for ``cfg``, before it had sampling fields."""
    return {
        "problem": cfg.problem.name,
        "model": cfg.recipe,
        "steps": cfg.run.steps,
        "seed": cfg.run.seed,
        "batch_size": cfg.sampling.batch_size,
        "layers": list(cfg.net.layers) if cfg.net.layers is not None else None,
        "learning_rate": 0.001,
        "decay_rate": 0.9,
        "decay_steps": 1000,
        "balance_every": 10,
        "annealing_variant": "official",
        "annealing_alpha": None,
        "annealing_statistic": None,
        "chunk_size": cfg.run.chunk_size,
        "x64": cfg.run.x64,
        "hist_steps": [],
        "hist_bins": 60,
        "stiffness_every": 0,
        "stiffness_iters": 20,
        "stiffness_terms": False,
        "problem_params": dict(cfg.problem.params),
    }


def test_a_run_saved_before_new_config_fields_is_still_recognised(tmp_path):
    cfg = ps.RunConfig.create(steps=2, chunk_size=2, layers=(2, 4, 1))
    ps.run(cfg, tmp_path / "r", progress=False)
    path = tmp_path / "r" / "config.json"
    saved = json.loads(path.read_text())
    saved.pop("sampling")  # the section of the fields added since (kind, pool, k, c, ...)
    saved.pop("resolved")
    path.write_text(json.dumps(saved))
    assert finished_summary(Job(cfg, tmp_path / "r"))["status"] == "finished"
    with pytest.raises(FileExistsError, match="different config"):
        finished_summary(Job(cfg.override(sampling="rad"), tmp_path / "r"))
    # the same run recorded in pinnsight 0.1's flat form
    path.write_text(json.dumps(_as_written_by_0_1(cfg)))
    assert finished_summary(Job(cfg, tmp_path / "r"))["status"] == "finished"
    with pytest.raises(FileExistsError, match="different config"):
        finished_summary(Job(cfg.override(sampling="rad"), tmp_path / "r"))
