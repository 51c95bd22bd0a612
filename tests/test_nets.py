"""Networks against their equations on hand-set weights."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnsight as ps
from pinnsight.nets import glorot_normal


def test_glorot_normal_std_is_untruncated():
    w = glorot_normal(jax.random.PRNGKey(0), 300, 500)
    np.testing.assert_allclose(jnp.std(w), np.sqrt(2 / 800), rtol=0.02)
    assert jnp.max(jnp.abs(w)) > 3.5 * np.sqrt(2 / 800)  # truncated normal stops at 2 std


def test_mlp_equations_and_init(getkey):
    net = ps.MLP((2, 3, 3, 1), key=getkey(), shift=(1.0, -1.0), scale=(2.0, 4.0))
    assert all(float(jnp.abs(b).max()) == 0.0 for b in net.biases)
    x = jnp.array([0.5, 0.7])
    xt = (x - jnp.array([1.0, -1.0])) / jnp.array([2.0, 4.0])
    h = jnp.tanh(xt @ net.kernels[0])
    h = jnp.tanh(h @ net.kernels[1])
    np.testing.assert_allclose(net(x), h @ net.kernels[2], rtol=1e-6)


def test_modified_mlp_against_equations_on_hand_set_weights(getkey):
    net = ps.ModifiedMLP((2, 3, 3, 2), key=getkey())
    r = np.random.default_rng(0)
    W1, W2, W3 = r.normal(size=(2, 3)), r.normal(size=(3, 3)), r.normal(size=(3, 2))
    b1, b2, b3 = r.normal(size=3), r.normal(size=3), r.normal(size=2)
    Wu, Wv, bu, bv = r.normal(size=(2, 3)), r.normal(size=(2, 3)), r.normal(size=3), r.normal(size=3)
    net = eqx.tree_at(
        lambda n: (n.kernels, n.biases, n.encoder_kernels, n.encoder_biases),
        net,
        ((W1, W2, W3), (b1, b2, b3), (Wu, Wv), (bu, bv)),
    )
    x = np.array([0.3, -0.8])
    U, V = np.tanh(x @ Wu + bu), np.tanh(x @ Wv + bv)
    Z1 = np.tanh(x @ W1 + b1)
    H2 = Z1 * U + (1 - Z1) * V
    Z2 = np.tanh(H2 @ W2 + b2)
    H3 = Z2 * U + (1 - Z2) * V
    np.testing.assert_allclose(net(jnp.asarray(x)), H3 @ W3 + b3, rtol=1e-5)


def test_modified_mlp_init_and_kernels(getkey):
    net = ps.ModifiedMLP((2, 50, 50, 50, 1), key=getkey())
    assert [k.shape for k in net.main_kernels()] == [(2, 50), (50, 50), (50, 50), (50, 1)]
    assert float(jnp.abs(net.encoder_biases[0]).max()) > 0  # random encoder biases
    assert all(float(jnp.abs(b).max()) == 0.0 for b in net.biases)


def test_bad_layers(getkey):
    with pytest.raises(ValueError, match="at least input"):
        ps.MLP((2, 1), key=getkey())
    with pytest.raises(ValueError, match="equal hidden widths"):
        ps.ModifiedMLP((2, 10, 20, 1), key=getkey())
