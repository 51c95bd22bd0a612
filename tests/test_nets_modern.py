"""Fourier-feature MLP, random weight factorisation and PirateNet against their equations.

Speed: on a CPU every jitted function, and every eagerly dispatched op, is compiled per
shape, dtype and static structure, and compilation is most of the cost of small tests.
The tests therefore share a few canonical networks (same sizes, same static ``shift``,
``scale`` and ``periodic``), always feed batches of ``N`` points, compute expectations in
NumPy, and run the networks through a handful of jitted helpers.
"""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pinnsight.nets.base import check_network
from pinnsight.nets.fourier import FourierEmbedding, FourierMLP
from pinnsight.nets.mlp import MLP
from pinnsight.nets.pirate import PirateNet, physics_informed_init
from pinnsight.nets.rwf import RWFMLP, Dense, factorise

rng = np.random.default_rng(0)
N = 16  # points per batch, everywhere
STATS = dict(shift=(0.5, -0.25), scale=(2.0, 4.0))
PIRATE = (2, 8, 8, 8, 1)  # one residual block of width 8


def fourier(key):
    return FourierMLP((2, 8, 8, 1), key=key, embed_dim=8, sigma=2.0, periodic=((1, 2.0),), **STATS)


def rwf(key):
    return RWFMLP((2, 8, 8, 1), key=key, **STATS)


def pirate(key, **kw):
    return PirateNet(PIRATE, key=key, sigma=2.0, **STATS, **kw)  # embed_dim = width = 8


def points(low=-1.5, high=1.5, d=2):
    return rng.uniform(low, high, size=(N, d))


@eqx.filter_jit
def _batch(net, x):
    return jax.vmap(net)(x)


def _np(a):
    return np.asarray(a, dtype=np.float64)


def _randomise(net, scale=0.5):
    """``net`` with every trained leaf redrawn (alpha and biases included)."""
    params, static = eqx.partition(net, eqx.is_inexact_array)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    leaves = [jnp.asarray(scale * rng.normal(size=leaf.shape), leaf.dtype) for leaf in leaves]
    return eqx.combine(jax.tree_util.tree_unflatten(treedef, leaves), static)


def _np_gamma(emb: FourierEmbedding, x):
    """Fourier features of one point by hand: periodic lift, normalisation, [cos Bx~, sin Bx~]."""
    period = dict(emb.periodic)
    xt = []
    for j in range(emb.in_size):
        if j in period:
            xt += [np.cos(2 * np.pi * x[j] / period[j]), np.sin(2 * np.pi * x[j] / period[j])]
        else:
            xt.append((x[j] - emb.shift[j]) / emb.scale[j])
    z = emb.B @ np.array(xt)
    return np.concatenate([np.cos(z), np.sin(z)])


def _np_weight(layer: Dense):
    w = _np(layer.kernel)
    return w if layer.log_scale is None else w * np.exp(_np(layer.log_scale))[None, :]


# --------------------------------------------------------------------------- Fourier features


def test_fourier_mlp_against_equations(getkey):
    net = _randomise(fourier(getkey()))
    assert net.embedding.B.shape == (4, 3)  # (embed_dim/2, d + number of periodic axes)
    (W1, W2, W3), (b1, b2, b3) = [_np(k) for k in net.kernels], [_np(b) for b in net.biases]
    X = points()
    for x, out in zip(X, _np(_batch(net, X)), strict=True):
        xt = np.array([(x[0] - 0.5) / 2.0, np.cos(2 * np.pi * x[1] / 2.0), np.sin(2 * np.pi * x[1] / 2.0)])
        z = net.embedding.B @ xt
        gamma = np.concatenate([np.cos(z), np.sin(z)])
        np.testing.assert_allclose(gamma, _np_gamma(net.embedding, x), rtol=1e-12)
        expected = np.tanh(np.tanh(gamma @ W1 + b1) @ W2 + b2) @ W3 + b3
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_fourier_defaults_and_frequency_scale(getkey):
    assert inspect.signature(FourierMLP).parameters["embed_dim"].default == 256
    emb = FourierEmbedding(2, key=getkey(), sigma=5.0)
    assert emb.embed_dim == 256 and emb.B.shape == (128, 2)
    np.testing.assert_allclose(emb.B.std(), 5.0, rtol=0.15)
    net = fourier(getkey())
    assert [k.shape for k in net.main_kernels()] == [(8, 8), (8, 8), (8, 1)]  # never B
    check_network(net, 2, 1)


def test_fourier_frequencies_are_not_trained(getkey):
    net = fourier(getkey())
    params, static = eqx.partition(net, eqx.is_inexact_array)
    shapes = sorted(leaf.shape for leaf in jax.tree_util.tree_leaves(params))
    assert shapes == sorted([(8, 8), (8, 8), (8, 1), (8,), (8,), (1,)])  # kernels, biases: no B
    B0 = net.embedding.B.copy()
    x = points()
    opt = optax.adamw(1e-2, weight_decay=0.5)  # weight decay would move a zero-gradient leaf

    @jax.jit
    def step(params):
        grads = jax.grad(lambda p: jnp.sum(jax.vmap(eqx.combine(p, static))(x) ** 2))(params)
        updates, _ = opt.update(grads, opt.init(params), params)
        return grads, optax.apply_updates(params, updates)

    grads, new = step(params)
    assert len(jax.tree_util.tree_leaves(grads)) == 6
    trained = eqx.combine(new, static)
    np.testing.assert_array_equal(trained.embedding.B, B0)
    assert not np.allclose(trained.kernels[0], net.kernels[0])


def test_fourier_exact_periodicity(getkey):
    periodic = ((0, 1.5), (2, 2 * np.pi))
    net = _randomise(FourierMLP((3, 8, 8, 1), key=getkey(), embed_dim=8, sigma=3.0, periodic=periodic))
    x = points(-2, 2, d=3)
    base = _np(_batch(net, x))
    for axis, period in periodic:
        for k in (1, -3):
            shifted = x.copy()
            shifted[:, axis] += k * period
            np.testing.assert_allclose(_batch(net, shifted), base, atol=5e-5)
    shifted = x.copy()
    shifted[:, 1] += 1.5
    assert not np.allclose(_batch(net, shifted), base, atol=1e-3)  # axis 1 is not periodic


def test_fourier_errors(getkey):
    key = getkey()
    with pytest.raises(ValueError, match="`embed_dim` must be an even integer >= 2.*got embed_dim = 7"):
        FourierMLP((2, 8, 1), key=key, embed_dim=7)
    with pytest.raises(ValueError, match="`sigma`.*must be > 0, got sigma = 0"):
        FourierMLP((2, 8, 1), key=key, sigma=0.0)
    with pytest.raises(ValueError, match=r"0 <= axis < 2.*got periodic = \(\(2, 1.0\),\)"):
        FourierMLP((2, 8, 1), key=key, periodic=((2, 1.0),))
    with pytest.raises(ValueError, match="period > 0"):
        FourierMLP((2, 8, 1), key=key, periodic=((1, -1.0),))
    with pytest.raises(ValueError, match=r"0 <= axis < 2.*got periodic = \(\(0.5, 1.0\),\)"):
        FourierMLP((2, 8, 1), key=key, periodic=((0.5, 1.0),))
    with pytest.raises(ValueError, match="each axis at most once"):
        FourierMLP((2, 8, 1), key=key, periodic=((1, 1.0), (1, 2.0)))
    with pytest.raises(ValueError, match="pairs"):
        FourierMLP((2, 8, 1), key=key, periodic=(1, 2.0))
    with pytest.raises(ValueError, match=r"one entry per input \(d = 2\).*got shift = \(0.0,\)"):
        FourierMLP((2, 8, 1), key=key, shift=(0.0,))
    with pytest.raises(ValueError, match="at least input"):
        FourierMLP((2, 1), key=key)
    # a JSON config gives lists, or a mapping with string keys
    assert FourierEmbedding(2, key=key, embed_dim=8, periodic=[[1, 2.0]]).periodic == ((1, 2.0),)
    assert FourierEmbedding(2, key=key, embed_dim=8, periodic={"1": 2}).periodic == ((1, 2.0),)


# --------------------------------------------------------------------------- RWF


def test_factorise(getkey):
    w = jnp.asarray(rng.normal(size=(4, 2000)), jnp.float32)
    s, v = factorise(w, getkey(), mu=1.0, sigma=0.1)
    assert s.shape == (2000,) and v.shape == w.shape and s.dtype == w.dtype
    np.testing.assert_allclose(_np(v) * np.exp(_np(s))[None, :], w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose([np.mean(s), np.std(s)], [1.0, 0.1], rtol=0.1)
    with pytest.raises(ValueError, match=r"2-D \(n_in, n_out\) matrix, got shape \(3,\)"):
        factorise(jnp.ones(3), getkey())
    with pytest.raises(ValueError, match="`sigma`.*>= 0, got sigma = -1"):
        factorise(w, getkey(), sigma=-1.0)


def test_rwf_mlp_equals_glorot_mlp_at_init(getkey):
    key = getkey()
    net, mlp = rwf(key), MLP((2, 8, 8, 1), key=key, **STATS)
    for layer, w0 in zip(net.dense, mlp.kernels, strict=True):
        np.testing.assert_allclose(_np_weight(layer), w0, rtol=1e-6, atol=1e-7)
        assert np.abs(_np(layer.log_scale) - 1.0).max() < 0.6
        np.testing.assert_array_equal(layer.bias, 0.0)
    x = points()
    np.testing.assert_allclose(_batch(net, x), _batch(mlp, x), rtol=1e-5, atol=1e-6)
    assert [k.shape for k in jax.eval_shape(net.effective_kernels)] == [(2, 8), (8, 8), (8, 1)]
    check_network(net, 2, 1)


def test_rwf_mlp_against_equations(getkey):
    net = _randomise(rwf(getkey()))
    X = points()
    for x, out in zip(X, _np(_batch(net, X)), strict=True):
        h = (x - np.array([0.5, -0.25])) / np.array([2.0, 4.0])
        for i, layer in enumerate(net.dense):
            s, V = _np(layer.log_scale), _np(layer.kernel)
            W = np.array([[np.exp(s[j]) * V[a, j] for j in range(V.shape[1])] for a in range(V.shape[0])])
            h = h @ W + _np(layer.bias)
            h = np.tanh(h) if i < 2 else h
        np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-5)


def test_rwf_main_kernels_are_leaves_usable_on_gradients(getkey):
    key = getkey()
    net, mlp = rwf(key), MLP((2, 8, 8, 1), key=key, **STATS)
    x = points()

    @eqx.filter_jit
    def grad(net):
        return eqx.filter_grad(lambda n: jnp.mean(jax.vmap(n)(x) ** 2))(net)

    g_rwf, g_mlp = grad(net), grad(mlp)  # gradient pytrees, as pinnsight's training step has them
    assert [k.shape for k in g_rwf.main_kernels()] == [(2, 8), (8, 8), (8, 1)]
    # dL/dV = exp(s) * dL/dW per output column (the same function at init)
    for gv, gw, layer in zip(g_rwf.main_kernels(), g_mlp.main_kernels(), net.dense, strict=True):
        np.testing.assert_allclose(gv, _np(gw) * np.exp(_np(layer.log_scale))[None, :], rtol=1e-4, atol=1e-7)


def test_dense_plain_and_factorised(getkey):
    key = getkey()
    plain, fact = Dense(8, 8, key=key, rwf=False), Dense(8, 8, key=key, rwf=True, mu=0.5, sigma=0.2)
    assert plain.log_scale is None and fact.log_scale.shape == (8,)
    assert abs(float(np.mean(fact.log_scale)) - 0.5) < 0.3
    np.testing.assert_array_equal(plain.weight(), plain.kernel)
    np.testing.assert_allclose(fact.weight(), plain.kernel, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- PirateNet


def _np_pirate(net: PirateNet, x):
    """The PirateNet equations in NumPy for one point, from the effective weights of ``net``."""

    def dense(layer, h):
        return h @ _np_weight(layer) + _np(layer.bias)

    phi = _np_gamma(net.embedding, x)
    U, V = np.tanh(dense(net.gates[0], phi)), np.tanh(dense(net.gates[1], phi))
    h = phi
    for l in range(net.n_blocks):
        f = np.tanh(dense(net.dense[3 * l], h))
        z1 = f * U + (1 - f) * V
        g = np.tanh(dense(net.dense[3 * l + 1], z1))
        z2 = g * U + (1 - g) * V
        r = np.tanh(dense(net.dense[3 * l + 2], z2))
        a = float(net.alpha[l])
        h = a * r + (1 - a) * h
    return dense(net.output, h)


def test_pirate_against_equations(getkey):
    kw = dict(periodic=((1, 2.0),), sigma=2.0, embed_dim=6, **STATS)
    net = _randomise(PirateNet((2,) + (8,) * 6 + (2,), key=getkey(), **kw))  # embed_dim != width, m = 2
    assert net.n_blocks == 2 and net.embedding.embed_dim == 6 and net.embedding.B.shape == (3, 3)
    assert [k.shape for k in net.main_kernels()] == [(6, 8), (8, 8), (8, 6)] * 2 + [(6, 2)]
    assert np.abs(_np(net.alpha)).min() > 0
    X = points()
    for x, out in zip(X, _np(_batch(net, X)), strict=True):
        np.testing.assert_allclose(out, _np_pirate(net, x), rtol=1e-4, atol=1e-5)


@eqx.filter_jit
def _pirate_parts(net, x):
    return jax.vmap(lambda p: (net.embedding(p), net.features(p), net(p)))(x)


def test_pirate_is_linear_in_the_embedding_at_init(getkey):
    net = pirate(getkey())
    assert np.abs(_np(net.alpha)).max() == 0.0 and net.embedding.embed_dim == 8
    x = points()
    phi, feats, out = _pirate_parts(net, x)
    np.testing.assert_array_equal(feats, phi)
    np.testing.assert_allclose(out, _np(phi) @ _np_weight(net.output), rtol=1e-5, atol=1e-6)
    # only the output layer and alpha learn at the first step
    grads = eqx.filter_jit(eqx.filter_grad(lambda n: jnp.sum(jax.vmap(n)(x) ** 2)))(net)
    assert all(np.abs(_np(k)).max() == 0.0 for k in grads.main_kernels()[:-1])
    assert np.abs(_np(grads.main_kernels()[-1])).max() > 0 and np.abs(_np(grads.alpha)).max() > 0


def _data():
    pts = points(-1, 1)
    return pts, (np.sin(np.pi * pts[:, 0]) * np.cos(pts[:, 1]))[:, None]


def _to_float64(net):
    params, static = eqx.partition(net, eqx.is_inexact_array)
    return eqx.combine(jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params), static)


@pytest.fixture(scope="module")
def pirate64():
    """The canonical PirateNet, without RWF, built under float64 (as `jax.enable_x64` configs are)."""
    key = jax.random.PRNGKey(42)
    with jax.enable_x64(True):
        net = pirate(key, rwf=False)
        assert all(a.dtype == jnp.float64 for a in jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_array)))
    return net


def test_physics_informed_init_is_the_least_squares_fit_float64(pirate64):
    with jax.enable_x64(True):
        net = pirate64
        pts, y = _data()
        fitted = eqx.filter_jit(physics_informed_init)(net, pts, y)  # jit-compatible
        Phi = np.stack([_np_gamma(net.embedding, p) for p in pts])
        coef, res, *_ = np.linalg.lstsq(Phi, y, rcond=None)
        pred = _np(_batch(fitted, pts))
        np.testing.assert_allclose(pred, Phi @ coef, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(np.sum((pred - y) ** 2, axis=0), res, rtol=1e-6)
        np.testing.assert_allclose(_np_weight(fitted.output), coef, rtol=1e-6, atol=1e-10)
        # same tree structure, nothing but the output kernel changed
        assert fitted.output.log_scale is None and fitted.output.kernel.dtype == jnp.float64
        assert jax.tree_util.tree_structure(fitted) == jax.tree_util.tree_structure(net)
        np.testing.assert_array_equal(fitted.dense[0].kernel, net.dense[0].kernel)


def test_physics_informed_init_rwf_float32_and_errors(getkey):
    net = pirate(getkey())  # with RWF: the fit sets V_out = W_out / exp(s_out), s_out kept
    pts, y = _data()
    fitted = eqx.filter_jit(physics_informed_init)(net, pts, y)
    assert fitted.output.kernel.dtype == jnp.float32
    assert jax.tree_util.tree_structure(fitted) == jax.tree_util.tree_structure(net)
    np.testing.assert_array_equal(fitted.output.log_scale, net.output.log_scale)
    Phi = np.stack([_np_gamma(net.embedding, p) for p in pts])
    _, res, *_ = np.linalg.lstsq(Phi, y, rcond=None)
    np.testing.assert_allclose(np.sum((_np(_batch(fitted, pts)) - y) ** 2), res[0], rtol=1e-3)
    one_d = eqx.filter_eval_shape(physics_informed_init, net, pts, y[:, 0])  # (N,) targets when m == 1
    assert one_d.output.kernel.shape == (8, 1)
    with pytest.raises(ValueError, match=r"`points` must have shape \(N, 2\).*got shape \(16,\)"):
        physics_informed_init(net, pts[:, 0], y)
    with pytest.raises(ValueError, match=r"`targets` must have shape \(N, 1\) = \(16, 1\).*\(15, 1\)"):
        physics_informed_init(net, pts, y[:15])
    with pytest.raises(TypeError, match="needs a PirateNet, got MLP"):
        physics_informed_init(MLP((2, 8, 1), key=getkey()), pts, y)


def test_pirate_layers_and_errors(getkey):
    key = getkey()
    net = PirateNet.from_sizes(2, 1, width=8, blocks=3, key=key)
    assert net.layers == (2,) + (8,) * 9 + (1,) and net.n_blocks == 3 and net.alpha.shape == (3,)
    assert [k.shape for k in net.main_kernels()] == [(8, 8)] * 9 + [(8, 1)]
    check_network(net, 2, 1)
    with pytest.raises(ValueError, match=r"multiple of 3.*got layers = \(2, 8, 8, 8, 8, 1\) \(4 hidden"):
        PirateNet((2, 8, 8, 8, 8, 1), key=key)
    with pytest.raises(ValueError, match="hidden entries must be equal"):
        PirateNet((2, 8, 8, 16, 1), key=key)
    with pytest.raises(ValueError, match="`blocks` must be an integer >= 1, got blocks = 0"):
        PirateNet.from_sizes(2, 1, blocks=0, key=key)
    with pytest.raises(ValueError, match="RWF log-scales.*got sigma = -0.1"):
        PirateNet((2, 8, 8, 8, 1), key=key, rwf_sigma=-0.1)


# --------------------------------------------------------------------------- all three


@pytest.mark.parametrize("name", ["fourier", "pirate"])
def test_checkpoint_round_trip_rebuilds_frozen_frequencies(name, getkey, tmp_path):
    """pinnsight checkpoints hold the leaves only; the skeleton, B included, comes from the key."""
    key = getkey()
    build = fourier if name == "fourier" else pirate
    net = _randomise(build(key))
    eqx.tree_serialise_leaves(tmp_path / "model.eqx", net)
    loaded = eqx.tree_deserialise_leaves(tmp_path / "model.eqx", build(key))
    np.testing.assert_array_equal(loaded.embedding.B, net.embedding.B)
    x = points()
    np.testing.assert_array_equal(_batch(loaded, x), _batch(net, x))


BUILDERS = {"fourier": fourier, "rwf": rwf, "pirate": pirate}


def _second_derivative(net, x, axis):
    """$\\partial^2 f/\\partial x_a^2$ by forward mode over forward mode, as the residuals take it."""
    e = jnp.zeros_like(x).at[axis].set(1.0)
    return jax.jvp(lambda y: jax.jvp(net, (y,), (e,))[1], (x,), (e,))[1]


@eqx.filter_jit
def _derivative_checks(net, x, h, with_grad):
    """d2f/dx_1^2 (jvp of jvp, vmapped), ``net`` at the stencil ``x + k h/2 e_1``,
    ``k = -2..2``, and (``with_grad``) the parameter gradient of a loss built from d2f/dx_0^2."""
    d2 = jax.vmap(lambda p: _second_derivative(net, p, 1))(x)
    e = jnp.zeros_like(x).at[:, 1].set(h / 2)
    stencil = jnp.stack([jax.vmap(net)(x + k * e) for k in (-2, -1, 0, 1, 2)])
    if not with_grad:
        return d2, stencil, None
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def loss(p):
        n = eqx.combine(p, static)
        return jnp.mean(jax.vmap(lambda q: _second_derivative(n, q, 0))(x) ** 2)

    return d2, stencil, jax.grad(loss)(params)


def _check_derivatives(net, h, rtol, atol, with_grad):
    d2, f, grads = _derivative_checks(net, points(-1, 1), h, with_grad)
    f = _np(f)
    coarse, fine = (f[4] - 2 * f[2] + f[0]) / h**2, (f[3] - 2 * f[2] + f[1]) / (h / 2) ** 2
    np.testing.assert_allclose(d2, (4 * fine - coarse) / 3, rtol=rtol, atol=atol)  # Richardson
    if with_grad:
        leaves = jax.tree_util.tree_leaves(grads)
        assert all(np.isfinite(_np(g)).all() for g in leaves)
        assert any(np.abs(_np(g)).max() > 0 for g in leaves)
    return d2


@pytest.mark.parametrize("name", list(BUILDERS))
def test_forward_mode_second_derivatives_jit_vmap(name, getkey):
    net = _randomise(BUILDERS[name](getkey()), scale=0.3)
    _check_derivatives(net, 2e-2, rtol=5e-3, atol=2e-2, with_grad=True)  # float32 differences: loose


@pytest.mark.parametrize("name", list(BUILDERS))
def test_float64(name, getkey, pirate64):
    net = pirate64 if name == "pirate" else BUILDERS[name](getkey())  # built in float32 ...
    with jax.enable_x64(True):
        net = _randomise(_to_float64(net), scale=0.3)  # ... and cast: construction compiles are costly
        assert all(a.dtype == jnp.float64 for a in jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_array)))
        d2 = _check_derivatives(net, 1e-3, rtol=1e-7, atol=1e-7, with_grad=False)
        assert d2.dtype == jnp.float64
