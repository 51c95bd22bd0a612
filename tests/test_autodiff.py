"""Derivative helpers against closed forms and against each other."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.autodiff import value_and_partials


def f(x):  # f = sin(2x) e^{3y}
    return jnp.sin(2 * x[0]) * jnp.exp(3 * x[1])


X = jnp.array([0.3, -0.2])


def test_partial_first_and_second_order():
    s, e = np.sin(0.6), np.exp(-0.6)
    c = np.cos(0.6)
    np.testing.assert_allclose(ps.partial(f, 0)(X), 2 * c * e, rtol=1e-6)
    np.testing.assert_allclose(ps.partial(f, 1)(X), 3 * s * e, rtol=1e-6)
    np.testing.assert_allclose(ps.partial(f, 0, order=2)(X), -4 * s * e, rtol=1e-6)
    np.testing.assert_allclose(ps.partial(f, 1, order=3)(X), 27 * s * e, rtol=1e-5)
    np.testing.assert_allclose(ps.partial(ps.partial(f, 0), 1)(X), 6 * c * e, rtol=1e-6)


def test_laplacian_closed_form_and_trace_of_hessian():
    s, e = np.sin(0.6), np.exp(-0.6)
    np.testing.assert_allclose(ps.laplacian(f)(X), (-4 + 9) * s * e, rtol=1e-6)
    np.testing.assert_allclose(ps.laplacian(f)(X), jnp.trace(ps.hessian(f)(X)), rtol=1e-6)
    np.testing.assert_allclose(ps.laplacian(f, axes=(1,))(X), 9 * s * e, rtol=1e-6)


def test_grad_and_vector_outputs():
    np.testing.assert_allclose(ps.grad(f)(X), jax.grad(f)(X), rtol=1e-6)

    def g(x):
        return jnp.stack([x[0] ** 3, x[0] * x[1] ** 2])

    np.testing.assert_allclose(ps.partial(g, 0, order=2)(X), [6 * 0.3, 0.0], atol=1e-6)
    np.testing.assert_allclose(ps.laplacian(g)(X), [6 * 0.3, 2 * 0.3], rtol=1e-6)


def test_value_and_partials_shares_one_pass():
    v, d1, d2 = value_and_partials(f, 0)(X)
    np.testing.assert_allclose([v, d1, d2], [f(X), ps.partial(f, 0)(X), ps.partial(f, 0, 2)(X)], rtol=1e-6)


def test_bad_axis_and_order():
    with pytest.raises(ValueError, match="out of range"):
        ps.partial(f, 2)(X)
    with pytest.raises(ValueError, match="order"):
        ps.partial(f, 0, order=0)


def test_derivatives_through_a_network(getkey):
    net = ps.MLP((2, 8, 8, 1), key=getkey(), shift=(0.1, 0.2), scale=(0.5, 2.0))
    u = lambda x: net(x)[0]  # noqa: E731
    # one compile (op by op, every operation of the network's derivatives would compile on its own)
    h, lap, u_yy = jax.jit(lambda x: (jax.hessian(u)(x), ps.laplacian(u)(x), ps.partial(u, 1, 2)(x)))(X)
    np.testing.assert_allclose(lap, jnp.trace(h), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u_yy, h[1, 1], rtol=1e-5, atol=1e-6)


def test_derivatives_up_to_third_order_and_directional_taylor():
    from pinnsight.autodiff import derivatives, directional_taylor

    y, d1, d2, d3 = derivatives(f, 3)(X)
    s, c, e = np.sin(0.6), np.cos(0.6), np.exp(-0.6)
    np.testing.assert_allclose(y, s * e, rtol=1e-6)
    np.testing.assert_allclose(d1, [2 * c * e, 3 * s * e], rtol=1e-6)
    np.testing.assert_allclose(d2, [[-4 * s * e, 6 * c * e], [6 * c * e, 9 * s * e]], rtol=1e-5)
    np.testing.assert_allclose(d3[0, 0, 1], -12 * s * e, rtol=1e-5)  # f_xxy
    np.testing.assert_allclose(d3[1, 1, 1], 27 * s * e, rtol=1e-5)  # f_yyy
    v = jnp.array([1.0, -2.0])
    _, t1, t2, t3 = directional_taylor(f, 3)(X, v)
    np.testing.assert_allclose(t1, d1 @ v, rtol=1e-5)
    np.testing.assert_allclose(t2, v @ d2 @ v, rtol=1e-5)
    np.testing.assert_allclose(t3, jnp.einsum("ijk,i,j,k->", d3, v, v, v), rtol=1e-4)
