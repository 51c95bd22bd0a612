"""Reference solutions (Cole–Hopf, the cavity solver) and the new problems' residuals."""

import csv
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.autodiff import laplacian
from pinnsight.problems.cavity import lid_corner_flow, velocity
from pinnsight.reference import burgers_cole_hopf, solve_cavity
from pinnsight.reference.burgers import burgers_cole_hopf_point

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data not available")


def ghia(re: float):
    rows = list(csv.DictReader((DATA / "ghia1982_centerlines_re100_400_1000.csv").open()))
    g = [r for r in rows if float(r["Re"]) == re]
    u = np.array([[float(r["coord"]), float(r["value"])] for r in g if r["profile"] == "u_at_x0.5"])
    v = np.array([[float(r["coord"]), float(r["value"])] for r in g if r["profile"] == "v_at_y0.5"])
    return u, v


def test_cavity_corner_radius_scales_residual_and_wall_misfits_near_the_lid_ends():
    """corner_radius = delta multiplies the residual and the lid/side-wall misfits by
    min(1, d/delta), d the distance to the nearer lid end; the bottom and delta = 0 unchanged."""
    with jax.enable_x64(True):
        plain = ps.get_problem("cavity")
        weighted = ps.get_problem("cavity", corner_radius=0.1)
        net = ps.MLP((2, 8, 2), key=jax.random.PRNGKey(0))
        u = plain.point_function(net)
        x = jnp.array([0.03, 0.96])  # d = 0.05 from (0, 1): weight 1/2
        np.testing.assert_allclose(weighted.residual(net, x), 0.5 * plain.residual(net, x), rtol=1e-12)
        far = jnp.array([0.5, 0.5])
        np.testing.assert_allclose(weighted.residual(net, far), plain.residual(net, far), rtol=1e-12)
        cases = [("lid", [0.98, 1.0], 0.2), ("left", [0.0, 0.96], 0.4), ("bottom", [0.0, 0.0], 1.0)]
        for name, pt, w in cases:
            pt = jnp.array(pt)
            got = weighted.conditions[name].misfit(u, pt)
            np.testing.assert_allclose(got, w * plain.conditions[name].misfit(u, pt), rtol=1e-12)
        assert plain.params == {"Re": 100.0} and weighted.params["corner_radius"] == 0.1
        with pytest.raises(ValueError, match="corner_radius"):
            ps.get_problem("cavity", corner_radius=-0.1)


def test_scraper_flow_meets_the_walls_and_solves_stokes_near_each_lid_end():
    """lid_corner_flow: psi = 0 and u = 1 on the lid, no slip on the side walls, and
    grad p = Laplacian(u)/Re (Stokes, exact up to the 1e-9 offset) within a quarter of each end."""
    with jax.enable_x64(True):
        re = 100.0

        def flow(x):
            return lid_corner_flow(x, re)

        uv = velocity(flow)

        def stokes_defect(x):
            hess = jax.jacfwd(jax.jacfwd(uv))(x)
            return jax.grad(lambda y: flow(y)[1])(x) - (hess[:, 0, 0] + hess[:, 1, 1]) / re

        for t in [0.0, 0.1, 0.5, 0.9, 1.0]:
            lid = jnp.array([t, 1.0])
            np.testing.assert_allclose(uv(lid), [1.0, 0.0], atol=1e-7)
            assert abs(float(flow(lid)[0])) < 1e-8
        for y in [0.2, 0.9, 0.999]:
            np.testing.assert_allclose(uv(jnp.array([0.0, y])), 0.0, atol=1e-7)
            np.testing.assert_allclose(uv(jnp.array([1.0, y])), 0.0, atol=1e-7)
        for x in [[0.1, 0.9], [0.01, 0.995], [0.2, 0.6], [0.9, 0.85], [0.99, 0.999]]:
            assert float(jnp.max(jnp.abs(stokes_defect(jnp.array(x))))) < 1e-5, x
        # and it is not Stokes where the two ends are blended: the test can fail
        assert float(jnp.max(jnp.abs(stokes_defect(jnp.array([0.5, 0.5]))))) > 1e-2


def test_confined_corner_flow_is_stokes_near_each_end_and_nothing_beyond_its_radius():
    """lid_corner_flow(..., radius=R): Taylor's flow within R/2 of each end, zero beyond R,
    no slip on the side walls everywhere, psi = 0 on the lid and u = 1 within R/2 of an end."""
    with jax.enable_x64(True):
        re, radius = 100.0, 0.1

        def flow(x):
            return lid_corner_flow(x, re, radius)

        uv = velocity(flow)

        def stokes_defect(x):
            hess = jax.jacfwd(jax.jacfwd(uv))(x)
            return jax.grad(lambda y: flow(y)[1])(x) - (hess[:, 0, 0] + hess[:, 1, 1]) / re

        for t, speed in [(0.0, 1.0), (0.03, 1.0), (0.97, 1.0), (1.0, 1.0), (0.2, 0.0), (0.5, 0.0)]:
            np.testing.assert_allclose(uv(jnp.array([t, 1.0])), [speed, 0.0], atol=1e-7)
            assert abs(float(flow(jnp.array([t, 1.0]))[0])) < 1e-8
        mid = float(uv(jnp.array([0.075, 1.0]))[0])  # the cutoff's middle: c = 1/2 there
        np.testing.assert_allclose(mid, 0.5, atol=1e-7)
        for y in [0.5, 0.925, 0.95, 0.999]:  # 0.925: inside the cutoff's band, grad c != 0
            np.testing.assert_allclose(uv(jnp.array([0.0, y])), 0.0, atol=1e-7)
            np.testing.assert_allclose(uv(jnp.array([1.0, y])), 0.0, atol=1e-7)
        for x in [[0.01, 0.995], [0.03, 0.98], [0.99, 0.999]]:
            assert float(jnp.max(jnp.abs(stokes_defect(jnp.array(x))))) < 1e-5, x
        for x in [[0.5, 0.5], [0.2, 0.95], [0.95, 0.85]]:
            np.testing.assert_allclose(flow(jnp.array(x)), 0.0, atol=1e-15)
        # between R/2 and R the cutoff is not Stokes: the test can fail
        assert float(jnp.max(jnp.abs(stokes_defect(jnp.array([0.05, 0.95]))))) > 1e-2
        problem = ps.get_problem("cavity", singular_corners=True, singular_radius=radius)
        assert problem.params == {"Re": 100.0, "singular_corners": True, "singular_radius": radius}
        with pytest.raises(ValueError, match="singular_corners=true"):
            ps.get_problem("cavity", singular_radius=radius)


@pytest.mark.parametrize("radius", [0.0, 0.2])
def test_singular_corners_residual_is_finite_on_the_side_walls(radius):
    """A residual point drawn on a side wall itself (x = 0 or 1 exactly: uniform float32
    sampling draws such points) made the Taylor-mode residual nan and stopped a run at step
    24,898 (the jet of atan2(a, b) divides by b = x)."""
    problem = ps.get_problem("cavity", singular_corners=True, singular_radius=radius)
    net = ps.MLP((2, 8, 2), key=jax.random.PRNGKey(1))
    top = 1.0 - 2.0**-23  # the sampler's largest y
    pts = jnp.array([[0.0, 0.7656247615814209], [1.0, 0.5], [0.0, 0.99], [1.0, 0.999], [0.0, top]])
    assert np.isfinite(np.asarray(problem.residuals(net, pts))).all()
    with jax.enable_x64(True):  # and it is the limit from inside, not just a finite number
        wall = jnp.array([[0.0, 0.7656247615814209], [1.0, 0.5]])
        inside = wall + jnp.array([[1e-7, 0.0], [-1e-7, 0.0]])
        np.testing.assert_allclose(problem.residuals(net, wall), problem.residuals(net, inside), rtol=1e-4)


def test_singular_corners_is_the_plain_cavity_on_the_network_plus_the_corner_flow():
    with jax.enable_x64(True):
        plain = ps.get_problem("cavity")
        enriched = ps.get_problem("cavity", singular_corners=True)
        net = ps.MLP((2, 8, 2), key=jax.random.PRNGKey(1))

        def total(x):
            return net(x) + lid_corner_flow(x, 100.0)

        pts = enriched.domain.sample(jax.random.PRNGKey(2), 4)
        np.testing.assert_allclose(enriched.residuals(net, pts), plain.residuals(total, pts), rtol=1e-10)
        np.testing.assert_allclose(enriched.observe(net, pts), plain.observe(total, pts), rtol=1e-12)
        u, w = enriched.point_function(net), plain.point_function(total)
        for name, cond in enriched.conditions.items():
            x = cond.sample(jax.random.PRNGKey(3), 1)[0]
            np.testing.assert_allclose(cond.misfit(u, x), plain.conditions[name].misfit(w, x), rtol=1e-12)
        corners = jnp.array([[0.0, 1.0], [1.0, 1.0]])
        zero = ps.MLP((2, 4, 2), key=jax.random.PRNGKey(0))
        zero = jax.tree_util.tree_map(lambda a: a * 0 if eqx.is_inexact_array(a) else a, zero)
        np.testing.assert_allclose(enriched.observe(zero, corners), 1.0, atol=1e-7)  # the lid's speed
        assert enriched.params == {"Re": 100.0, "singular_corners": True}
        with pytest.raises(ValueError, match="true or false"):
            ps.get_problem("cavity", singular_corners=1)


@needs_data
def test_cole_hopf_matches_the_classic_data_set():
    from scipy.io import loadmat

    d = loadmat(DATA / "raissi_burgers_shock.mat")
    x, t, usol = d["x"].ravel(), d["t"].ravel(), d["usol"]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(x), 300), rng.integers(0, len(t), 300)
    np.testing.assert_allclose(burgers_cole_hopf(t[j], x[i]), usol[i, j], atol=1e-9)


def test_cole_hopf_initial_condition_and_walls():
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(burgers_cole_hopf(0.0, x), -np.sin(np.pi * x), atol=1e-12)
    np.testing.assert_allclose(burgers_cole_hopf(np.array([0.3, 0.9]), 1.0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="nodes"):
        burgers_cole_hopf(0.1, 0.1, nodes=500)


def test_burgers_residual_vanishes_on_the_exact_solution():
    with jax.enable_x64(True):
        problem = ps.get_problem("burgers")
        exact = lambda x: burgers_cole_hopf_point(x)  # noqa: E731
        pts = problem.domain.sample(jax.random.PRNGKey(0), 64)
        pts = pts.at[:, 0].set(0.1 + 0.8 * pts[:, 0])  # t > 0, where the formula is smooth
        r, ut = jax.jit(
            lambda pts: (
                jax.vmap(lambda x: problem.residual(exact, x))(pts),
                jax.vmap(lambda x: ps.partial(exact, 0)(x))(pts),
            )
        )(pts)
        assert float(jnp.max(jnp.abs(r))) < 1e-8 * float(jnp.max(jnp.abs(ut)) + 1)


def _exact_losses(problem, n_residual: int, n_condition: int):
    """The residual loss and every condition's loss of the problem's exact solution, on
    sampled points, in one compiled call (op by op, each operation would compile on its own)."""
    exact_net = lambda x: jnp.atleast_1d(problem.exact(x))  # noqa: E731
    pts = problem.domain.sample(jax.random.PRNGKey(0), n_residual)
    edges = {
        name: cond.sample(jax.random.PRNGKey(1), n_condition) for name, cond in problem.conditions.items()
    }

    @jax.jit
    def losses(pts, edges):
        conditions = {name: problem.condition_loss(name, exact_net, p) for name, p in edges.items()}
        return problem.residual_loss(exact_net, pts), conditions

    residual, conditions = losses(pts, edges)
    return float(residual), {name: float(v) for name, v in conditions.items()}


def test_klein_gordon_residual_and_conditions_vanish_on_the_exact_solution():
    problem = ps.get_problem("klein_gordon")
    residual, conditions = _exact_losses(problem, 128, 32)
    assert residual < 1e-6
    assert set(conditions) == set(problem.conditions)
    for name, loss in conditions.items():
        assert loss < 1e-10, name


def test_heat3d_residual_and_conditions_vanish_on_the_exact_solution():
    problem = ps.get_problem("heat3d", kappa=0.3, resolution=5)
    residual, conditions = _exact_losses(problem, 128, 32)
    assert residual < 1e-8
    assert set(conditions) == set(problem.conditions)
    for name, loss in conditions.items():
        assert loss < 1e-10, name
    assert problem.groups == ("ic", "bc") and problem.reference_data.shape == (5, 5, 5)
    assert ps.get_problem("heat3d").reference_data.points.shape == (100**3, 3)


def test_cavity_residual_zero_for_an_exact_navier_stokes_flow():
    """Plane Poiseuille flow u = 4y(1-y), v = 0, p = -8x/Re solves steady Navier–Stokes."""
    with jax.enable_x64(True):
        re = 37.0
        problem = ps.get_problem("cavity", Re=re)

        def flow(x):
            y = x[1]
            return jnp.stack([2 * y**2 - 4 * y**3 / 3, -8 * x[0] / re])

        pts = problem.domain.sample(jax.random.PRNGKey(0), 32)
        r, uv = jax.jit(
            lambda pts: (jax.vmap(lambda x: problem.residual(flow, x))(pts), jax.vmap(velocity(flow))(pts))
        )(pts)
        assert float(jnp.max(jnp.abs(r))) < 1e-12
        np.testing.assert_allclose(uv[:, 0], 4 * pts[:, 1] * (1 - pts[:, 1]), atol=1e-12)


def test_cavity_taylor_mode_residual_matches_nested_forward_mode():
    with jax.enable_x64(True):
        re = 50.0
        problem = ps.get_problem("cavity", Re=re)
        net = ps.MLP((2, 12, 12, 2), key=jax.random.PRNGKey(0))

        def nested(u, x):
            uv = velocity(u)
            grad_p = jax.jacfwd(lambda y: u(y)[1])(x)
            return jax.jacfwd(uv)(x) @ uv(x) + grad_p - laplacian(uv)(x) / re

        # compiled once each (op by op, every operation of both would compile on its own)
        taylor = jax.jit(lambda x: problem.residual(net, x))
        forward = jax.jit(lambda x: nested(net, x))
        for x in problem.domain.sample(jax.random.PRNGKey(3), 5):
            np.testing.assert_allclose(taylor(x), forward(x), rtol=1e-10, atol=1e-12)


@needs_data
def test_cavity_solver_matches_ghia_at_re100_on_a_coarse_grid():
    sol = solve_cavity(100.0, n=64)
    assert sol.residual_norm < 1e-6 and sol.newton_iterations <= 10
    (gu, gv) = ghia(100.0)
    u, _ = sol.velocity(np.full(len(gu), 0.5), gu[:, 0])
    _, v = sol.velocity(gv[:, 0], np.full(len(gv), 0.5))
    assert np.max(np.abs(u - gu[:, 1])) < 0.01
    assert np.max(np.abs(v - gv[:, 1])) < 0.01


def test_cavity_solver_boundary_values_and_errors():
    sol = solve_cavity(100.0, n=32)
    np.testing.assert_allclose(sol.u[:, -1], 1.0)
    np.testing.assert_allclose(sol.u[:, 0], 0.0)
    np.testing.assert_allclose(sol.v[0, :], 0.0)
    with pytest.raises(ValueError, match="`n` must be >= 8"):
        solve_cavity(100.0, n=4)
    with pytest.raises(ValueError, match="`re` must be"):
        solve_cavity(-1.0)


def test_cavity_paper_metric_of_the_reference_itself_is_zero(tmp_path):
    from pinnsight.experiments.reproduce import cavity_paper_metric

    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(100, 100)), rng.normal(size=(100, 100))
    np.savetxt(tmp_path / "wang2021_cavity_re100_reference_u.csv", u, delimiter=",")
    np.savetxt(tmp_path / "wang2021_cavity_re100_reference_v.csv", v, delimiter=",")
    speed = np.hypot(u, v)
    assert cavity_paper_metric(speed, tmp_path) == {"spectral": 0.0, "frobenius": 0.0}
    m = cavity_paper_metric(1.1 * speed, tmp_path)
    np.testing.assert_allclose([m["spectral"], m["frobenius"]], [0.1, 0.1], rtol=1e-12)


def test_reproduce_skips_finished_runs(tmp_path):
    from pinnsight.experiments.reproduce import reproduce

    kw = dict(
        seeds=(0,),
        steps=20,
        out=tmp_path / "rep",
        workers=1,
        suite={"helmholtz": ("M1", "M2")},
        results=tmp_path / "RESULTS.md",
        assignments=["chunk_size=10", "layers=(2,6,1)"],
    )
    first = reproduce(**kw)
    model = tmp_path / "rep" / "helmholtz" / "M1" / "seed0" / "model.eqx"
    stamp = model.stat().st_mtime_ns
    second = reproduce(**kw)
    assert model.stat().st_mtime_ns == stamp
    assert first["table"]["helmholtz/M1"]["median_error"] == second["table"]["helmholtz/M1"]["median_error"]
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.count("<!-- reproduce:begin -->") == 1 and "helmholtz | M2" in text
