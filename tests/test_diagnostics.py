"""Lanczos against the dense Hessian, histogram counts, and recording leaves training unchanged."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import pinnsight as ps
from pinnsight.diagnostics import (
    gradient_summary,
    lanczos_max_eigenvalue,
    layer_histograms,
    loss_max_eigenvalue,
)
from pinnsight.losses import sample_points, total_loss_fn


def test_lanczos_matches_dense_eigvalsh_on_a_tiny_network():
    with jax.enable_x64(True):
        problem = ps.get_problem("helmholtz", a2=2.0)
        net = ps.MLP((2, 5, 5, 1), key=jax.random.PRNGKey(0))
        sizes = dict.fromkeys(("residual", *problem.conditions), 32)
        pts = sample_points(problem, jax.random.PRNGKey(1), sizes)
        weights = {"bc": 3.0}
        params, static = eqx.partition(net, eqx.is_inexact_array)
        flat, unravel = ravel_pytree(params)
        loss = total_loss_fn(problem, static, weights, pts)

        @jax.jit  # one compile (op by op, every operation would compile on its own)
        def computed(flat):
            dense = jax.hessian(lambda f: loss(unravel(f)))(flat)
            sigma = loss_max_eigenvalue(problem, net, pts, weights, num_iters=flat.size)
            sigma20 = loss_max_eigenvalue(problem, net, pts, weights, num_iters=20)
            return dense, sigma, sigma20

        dense, sigma, sigma20 = computed(flat)
        top = np.linalg.eigvalsh(np.asarray(dense))[-1]
        np.testing.assert_allclose(float(sigma), top, rtol=1e-9)
        # a handful of iterations already lands close (Lanczos converges fast at the top)
        np.testing.assert_allclose(float(sigma20), top, rtol=1e-3)


def test_lanczos_on_a_known_spectrum():
    with jax.enable_x64(True):
        d = jnp.arange(1.0, 101.0)
        q, _ = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(0), (100, 100)))
        a = (q * d[None, :]) @ q.T
        assert abs(float(lanczos_max_eigenvalue(lambda v: a @ v, 100, num_iters=40)) - 100) < 1e-6


def test_histogram_bins_sum_to_number_of_kernel_entries(getkey):
    net = ps.MLP((2, 7, 5, 1), key=getkey())
    kernels = {
        "residual": net.kernels,
        "bc": [k * 1e-6 for k in net.kernels],
        "zero": [jnp.zeros_like(k) for k in net.kernels],
    }
    hist = jax.jit(layer_histograms, static_argnums=1)(kernels, 17)  # one compile, not one per operation
    sizes = [k.size for k in net.kernels]
    for t in kernels:
        assert hist[t]["counts"].shape == (3, 17)
        np.testing.assert_array_equal(hist[t]["counts"].sum(axis=1), sizes)
        np.testing.assert_array_equal(hist[t]["log_counts"].sum(axis=1) + hist[t]["zero_counts"], sizes)
    np.testing.assert_array_equal(hist["zero"]["zero_counts"], sizes)
    # the small term sits ~6 decades below the large one on the log axis
    edges = np.asarray(hist["residual"]["log_edges"])
    centers = 0.5 * (edges[1:] + edges[:-1])
    big = np.average(centers, weights=hist["residual"]["log_counts"][0])
    small = np.average(centers, weights=hist["bc"]["log_counts"][0])
    assert 5 < big - small < 7


def test_gradient_summary_by_hand():
    ks = {
        "residual": [jnp.array([[1.0, -4.0]]), jnp.array([[2.0]])],
        "bc": [jnp.array([[0.1, -0.3]]), jnp.array([[0.4]])],
    }
    s = gradient_summary(ks, ["bc"])
    assert float(s["gmax_residual"]) == 4.0
    np.testing.assert_allclose(s["gmean_bc"], (0.2 + 0.4) / 2)
    np.testing.assert_allclose(s["imbalance_bc"], 4.0 / 0.3, rtol=1e-6)


def test_recording_diagnostics_does_not_change_the_trajectory(tmp_path):
    cfg = ps.RunConfig.create(model="M2", steps=60, chunk_size=25, layers=(2, 8, 8, 1))
    plain = ps.run(cfg, progress=False)
    rec = cfg.override(hist_steps=(0, 30, 60), stiffness_every=20, stiffness_terms=True, stiffness_iters=8)
    recorded = ps.run(rec, tmp_path / "r", progress=False)
    for a, b in zip(
        jax.tree_util.tree_leaves(plain.net), jax.tree_util.tree_leaves(recorded.net), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    data = np.load(tmp_path / "r" / "histograms.npz")
    np.testing.assert_array_equal(data["steps"], [0, 30, 60])
    assert data["residual/counts"].shape == (3, 3, cfg.diagnostics.hist_bins)
    assert "summary/imbalance_bc" in data
    lines = (tmp_path / "r" / "stiffness.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["step", "sigma_max"]
    assert {"sigma_max_residual", "sigma_max_bc", "stability_bound"} <= set(header)
    assert [int(r.split(",")[0]) for r in lines[1:]] == [0, 20, 40, 60]
    assert all(float(r.split(",")[1]) > 0 for r in lines[1:])


def test_metrics_log_the_imbalance_scalars():
    cfg = ps.RunConfig.create(steps=20, chunk_size=10, layers=(2, 6, 1))
    h = ps.run(cfg, progress=False).history
    for k in ("gmax_residual", "gmean_residual", "gmax_bc", "gmean_bc", "imbalance_bc"):
        assert k in h and np.all(np.isfinite(h[k]))
    np.testing.assert_allclose(h["imbalance_bc"], h["gmax_residual"] / h["gmean_bc"], rtol=1e-5)


def test_poisson1d_residual_vanishes_for_exact_solution():
    for c in (1.0, 4.0):
        problem = ps.get_problem("poisson1d", C=c)
        exact_net = lambda x, p=problem: jnp.atleast_1d(p.exact(x))  # noqa: E731
        pts = problem.domain.sample(jax.random.PRNGKey(0), 64)
        assert float(problem.residual_loss(exact_net, pts)) < 1e-7 * c**4
