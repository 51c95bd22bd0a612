"""NTK spectra per term: Lanczos on Jacobian-vector products against a dense Jacobian."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import pinnsight as ps
from pinnsight.diagnostics import lanczos_eigenvalues, ntk_spectrum
from pinnsight.diagnostics.ntk import ntk_operator, term_misfits
from pinnsight.losses import sample_points
from pinnsight.problems import get_problem


def _dense_ntk(problem, net, pts, term):
    params, static = eqx.partition(net, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    f = term_misfits(problem, static, pts, term)
    jac = np.asarray(jax.jit(jax.jacrev(lambda p: f(unravel(p))))(flat), dtype=np.float64)
    return jac @ jac.T


@pytest.fixture(scope="module")
def small():
    with jax.enable_x64(True):
        problem = get_problem("helmholtz", a2=2.0)
        net = ps.MLP((2, 8, 8, 1), key=jax.random.PRNGKey(0))
        sizes = {"residual": 24, **{c: 6 for c in problem.conditions}}
        pts = sample_points(problem, jax.random.PRNGKey(1), sizes)
        yield problem, net, pts


def test_eigenvalues_and_trace_match_a_dense_jacobian(small):
    problem, net, pts = small
    with jax.enable_x64(True):
        dense = {t: _dense_ntk(problem, net, pts, t) for t in ("residual", "bc")}
        n = max(k.shape[0] for k in dense.values())
        # the whole spectrum (num_iters >= n) and a short Krylov space, in one compiled call
        full, short = jax.jit(
            lambda net, pts: (
                ntk_spectrum(problem, net, pts, num_iters=n),
                ntk_spectrum(problem, net, pts, num_iters=12),
            )
        )(net, pts)
        for term, k in dense.items():
            exact = np.linalg.eigvalsh(k)[::-1]
            assert full[term].size == k.shape[0]
            np.testing.assert_allclose(np.asarray(full[term].eigenvalues)[:8], exact[:8], rtol=1e-8)
            np.testing.assert_allclose(float(full[term].trace), np.trace(k), rtol=1e-10)
            np.testing.assert_allclose(np.asarray(short[term].eigenvalues)[:3], exact[:3], rtol=1e-6)


def test_the_operator_is_J_Jt_without_forming_J(small):
    problem, net, pts = small
    with jax.enable_x64(True):
        params, static = eqx.partition(net, eqx.is_inexact_array)
        matvec, n = ntk_operator(problem, static, params, pts, "residual")
        matvec = jax.jit(matvec)
        v = jax.random.normal(jax.random.PRNGKey(2), (n,), jnp.float64)
        np.testing.assert_allclose(
            np.asarray(matvec(v)), _dense_ntk(problem, net, pts, "residual") @ np.asarray(v)
        )


def test_float32_rank_deficient_block_has_no_spurious_ritz_values():
    """poisson1d's boundary points repeat two points: K_bb has rank 2. In float32 the Krylov
    space runs out; Lanczos must stop there instead of normalising rounding noise."""
    problem = get_problem("poisson1d", C=2.0)
    net = ps.MLP((1, 16, 16, 1), key=jax.random.PRNGKey(0))
    pts = sample_points(problem, jax.random.PRNGKey(1), {"residual": 48, "bc_lo": 24, "bc_hi": 24})
    spec = jax.jit(lambda net, pts: ntk_spectrum(problem, net, pts, num_iters=40))(net, pts)
    for term in ("residual", "bc"):
        dense = np.linalg.eigvalsh(_dense_ntk(problem, net, pts, term))[::-1]
        eig = np.asarray(spec[term].eigenvalues, np.float64)
        assert eig.max() <= dense[0] * (1 + 1e-4)
        np.testing.assert_allclose(eig[:2], dense[:2], rtol=1e-3)
    assert np.all(np.asarray(spec["bc"].eigenvalues)[2:] < 1e-3 * float(spec["bc"].eigenvalues[0]))


def test_lanczos_eigenvalues_on_a_known_spectrum():
    with jax.enable_x64(True):
        d = jnp.arange(1.0, 51.0)
        eig = jax.jit(lambda: lanczos_eigenvalues(lambda v: d * v, 50, num_iters=50))()
        np.testing.assert_allclose(np.asarray(eig), np.arange(50.0, 0.0, -1.0), rtol=1e-9)
