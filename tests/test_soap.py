"""SOAP (pinnsight.optim.soap) against an independent float64 numpy implementation, and in use."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pinnsight.optim.soap import ScaleBySoapState, scale_by_soap, soap

# f(W, b) = 0.5 ||A W B - C||^2 + 0.5 ||b - d||^2 with W (4, 3) and b (3,); C = A W* B, so min f = 0.
_rng = np.random.default_rng(0)
A = _rng.normal(size=(6, 4))
B = _rng.normal(size=(3, 5))
C = A @ _rng.normal(size=(4, 3)) @ B
D = _rng.normal(size=3)
W0 = 0.1 * _rng.normal(size=(4, 3))
B0 = 0.1 * _rng.normal(size=3)


def numpy_grads(W, b):
    return A.T @ (A @ W @ B - C) @ B.T, b - D


def jax_loss(params, dtype=jnp.float64):
    a, bm, c, d = (jnp.asarray(x, dtype) for x in (A, B, C, D))
    W = params["W"].reshape(4, 3)
    return 0.5 * jnp.sum((a @ W @ bm - c) ** 2) + 0.5 * jnp.sum((params["b"].reshape(3) - d) ** 2)


def numpy_soap(steps, lr, b1, b2, shampoo_beta, eps, freq, max_dim, weight_decay):
    """SOAP written out with explicit matrices, following the PyTorch reference step by step.

    Returns the (W, b) after each call. Axes longer than ``max_dim`` keep Q = I and are never
    refreshed; b gets plain Adam.
    """
    W, b = W0.copy(), B0.copy()
    beta_s = shampoo_beta if shampoo_beta >= 0 else b2
    use = [W.shape[0] <= max_dim, W.shape[1] <= max_dim]
    S = [np.zeros((4, 4)), np.zeros((3, 3))]
    Q = [np.eye(4), np.eye(3)]
    MW, VW, Mb, Vb = np.zeros((4, 3)), np.zeros((4, 3)), np.zeros(3), np.zeros(3)
    trajectory = []
    for k in range(steps):
        gW, gb = numpy_grads(W, b)
        new_W, new_b = W - lr * weight_decay * W, b - lr * weight_decay * b
        if k > 0:  # the first call only builds the statistics and the bases
            t = k
            scale = np.sqrt(1 - b2**t) / (1 - b1**t)
            MW = b1 * MW + (1 - b1) * gW
            VW = b2 * VW + (1 - b2) * (Q[0].T @ gW @ Q[1]) ** 2
            NW = Q[0] @ ((Q[0].T @ MW @ Q[1]) / (np.sqrt(VW) + eps)) @ Q[1].T
            Mb = b1 * Mb + (1 - b1) * gb
            Vb = b2 * Vb + (1 - b2) * gb**2
            new_W -= lr * scale * NW
            new_b -= lr * scale * Mb / (np.sqrt(Vb) + eps)
        outer = [gW @ gW.T, gW.T @ gW]
        for i in range(2):
            if not use[i]:
                continue
            S[i] = beta_s * S[i] + (1 - beta_s) * outer[i]
            if k == 0:
                Q[i] = np.linalg.eigh(S[i])[1][:, ::-1]
            elif k % freq == 0:
                estimate = np.diag(Q[i].T @ S[i] @ Q[i])
                order = np.argsort(-estimate, kind="stable")
                VW = np.take(VW, order, axis=i)
                Q[i] = np.linalg.qr(S[i] @ Q[i][:, order])[0]
        W, b = new_W, new_b
        trajectory.append((W, b))
    return trajectory


def jax_trajectory(optimizer, params, steps, dtype=jnp.float64):
    state = jax.jit(optimizer.init)(params)

    @jax.jit
    def step(params, state):
        updates, state = optimizer.update(jax.grad(jax_loss)(params, dtype), state, params)
        return optax.apply_updates(params, updates), state

    out = []
    for _ in range(steps):
        params, state = step(params, state)
        out.append(params)
    return out


# With no weight decay the first call leaves the parameters where they are, so the second gradient
# equals the first and is diagonal in the bases built from it: its off-diagonal entries are round-off
# that the first (sign-like) Adam step blows up, and two implementations disagree there at ~1e-7.
# Weight decay moves the parameters on the first call, which makes those entries ~1e-4 of the rest
# and the agreement ~1e-11. Plain Adam (no rotation) has no such entries.
CASES = {
    "both sides": dict(b1=0.9, b2=0.95, shampoo_beta=-1, eps=1e-8, freq=5, max_dim=10000, weight_decay=0.1),
    "rows above max_precond_dim": dict(
        b1=0.95, b2=0.99, shampoo_beta=0.9, eps=1e-8, freq=5, max_dim=3, weight_decay=0.01
    ),
    "plain Adam": dict(b1=0.9, b2=0.999, shampoo_beta=-1, eps=1e-6, freq=5, max_dim=2, weight_decay=0.0),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_matches_numpy_reference_in_float64(case):
    hp = CASES[case]
    steps, lr = 30, 0.05
    expected = numpy_soap(steps, lr, **hp)
    with jax.enable_x64(True):
        optimizer = soap(
            lr,
            b1=hp["b1"],
            b2=hp["b2"],
            shampoo_beta=hp["shampoo_beta"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            precondition_frequency=hp["freq"],
            max_precond_dim=hp["max_dim"],
        )
        params = {"W": jnp.asarray(W0, jnp.float64), "b": jnp.asarray(B0, jnp.float64)}
        got = [jax.tree.map(np.asarray, p) for p in jax_trajectory(optimizer, params, steps)]
    assert got[-1]["W"].dtype == np.float64
    for k, (p, (W, b)) in enumerate(zip(got, expected, strict=True)):
        for name, ours, ref in (("W", p["W"], W), ("b", p["b"], b)):
            rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
            assert rel < 1e-10, f"{case}: {name} differs by {rel:.2e} (relative) after call {k + 1}"
    # not vacuous: the parameters moved far, and (when a side is rotated) not as plain Adam's would
    assert np.linalg.norm(expected[-1][0] - W0) > 0.1 * np.linalg.norm(W0)
    if hp["max_dim"] >= 3:
        adam = numpy_soap(steps, lr, **{**hp, "max_dim": 1})
        assert np.linalg.norm(adam[-1][0] - expected[-1][0]) > 1e-2 * np.linalg.norm(expected[-1][0])


def test_extra_axes_and_vectors_reduce_to_the_matrix_case():
    """A (4, 3, 1) tensor behaves as the (4, 3) matrix (its third basis is [±1]); with
    ``precondition_1d`` a vector behaves as a (3, 1) column."""
    with jax.enable_x64(True):
        flat = {"W": jnp.asarray(W0), "b": jnp.asarray(B0)}
        shaped = {"W": flat["W"].reshape(4, 3, 1), "b": flat["b"].reshape(3, 1)}
        with_1d = soap(0.02, weight_decay=0.01, precondition_frequency=4, precondition_1d=True)
        a = jax_trajectory(with_1d, flat, 14)
        b = jax_trajectory(soap(0.02, weight_decay=0.01, precondition_frequency=4), shaped, 14)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x["W"], y["W"].reshape(4, 3), rtol=1e-11, atol=1e-13)
            np.testing.assert_allclose(x["b"], y["b"].reshape(3), rtol=1e-11, atol=1e-13)
        assert jax.eval_shape(with_1d.init, flat)[0].stats["b"][0].shape == (3, 3)
        assert jax.eval_shape(soap(0.02).init, flat)[0].stats["b"] == (None,)  # default: plain Adam


def test_lowers_the_quadratic_loss_by_a_large_factor():
    params = {"W": jnp.asarray(W0, jnp.float32), "b": jnp.asarray(B0, jnp.float32)}

    def final_loss(optimizer):
        def body(carry, _):
            p, s = carry
            updates, s = optimizer.update(jax.grad(jax_loss)(p, jnp.float32), s, p)
            return (optax.apply_updates(p, updates), s), None

        (p, _), _ = jax.lax.scan(body, (params, optimizer.init(params)), None, length=200)
        return float(jax_loss(p, jnp.float32))

    initial = float(jax_loss(params, jnp.float32))
    schedule = optax.cosine_decay_schedule(0.1, 200)
    ours = final_loss(soap(schedule))
    assert ours < 1e-3 * initial, (ours, initial)
    # on this Kronecker-structured quadratic SOAP also beats Adam with the same schedule
    assert ours < final_loss(optax.adam(schedule))


def test_compiles_once_inside_a_jitted_scan():
    optimizer = soap(1e-2, precondition_frequency=3)
    traces = []

    @jax.jit
    def run(params, state):
        traces.append(1)

        def body(carry, _):
            p, s = carry
            updates, s = optimizer.update(jax.grad(jax_loss)(p, jnp.float32), s, p)
            return (optax.apply_updates(p, updates), s), jax_loss(p, jnp.float32)

        return jax.lax.scan(body, (params, state), None, length=20)

    params = {"W": jnp.asarray(W0, jnp.float32), "b": jnp.asarray(B0, jnp.float32)}
    (params, state), losses1 = run(params, optimizer.init(params))
    bases_after_20 = state[0].bases["W"][0]
    (params, state), losses2 = run(params, state)
    assert len(traces) == 1
    soap_state = state[0]
    assert isinstance(soap_state, ScaleBySoapState)
    assert int(soap_state.count) == 40
    assert not np.allclose(bases_after_20, soap_state.bases["W"][0])  # refreshed in the second scan
    assert np.all(np.isfinite(losses2)) and losses2[-1] < losses1[0]


class TinyNet(eqx.Module):
    w1: jax.Array
    b1: jax.Array
    w2: jax.Array
    b2: jax.Array
    activation: Callable  # a non-array leaf: None after eqx.partition(..., eqx.is_array)
    depth: int

    def __call__(self, x):
        return self.w2 @ self.activation(self.w1 @ x + self.b1) + self.b2


def test_equinox_module_with_bias_and_non_array_leaves():
    rng = np.random.default_rng(1)
    arrays = [jnp.asarray(rng.normal(size=s), jnp.float32) for s in ((8, 2), (8,), (1, 8), (1,))]
    model = TinyNet(*arrays, activation=jnp.tanh, depth=2)
    params, static = eqx.partition(model, eqx.is_array)
    x = rng.normal(size=(32, 2))
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(np.sin(x[:, :1]) * x[:, 1:], jnp.float32)

    @jax.jit
    def loss(p):
        return jnp.mean((jax.vmap(eqx.combine(p, static))(x) - y) ** 2)

    optimizer = scale_by_soap(precondition_frequency=2)
    state = jax.jit(optimizer.init)(params)

    @jax.jit
    def step(p, s):
        updates, s = optimizer.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, jax.tree.map(lambda u: -1e-2 * u, updates)), s

    first = loss(params)
    for _ in range(10):
        params, state = step(params, state)
    assert loss(params) < first
    assert state.stats.b1 == (None,)  # biases: plain Adam
    assert state.bases.w1[0].shape == (8, 8) and state.bases.w1[1].shape == (2, 2)
    assert state.bases.activation is None and params.activation is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(b1=1.5), r"`b1` must be in \[0, 1\), got b1 = 1\.5\."),
        (dict(b1=float("nan")), r"`b1` must be in \[0, 1\), got b1 = nan\."),
        (dict(b2=-0.1), r"`b2` must be in \[0, 1\), got b2 = -0\.1\."),
        (dict(b2=1), r"`b2` must be in \[0, 1\), got b2 = 1\."),
        (dict(shampoo_beta=1.0), r"`shampoo_beta` must be in \[0, 1\), or negative to use b2"),
        (dict(eps=0.0), r"`eps` must be positive and finite, got eps = 0\.0\."),
        (dict(precondition_frequency=0), r"`precondition_frequency` must be a positive integer, got"),
        (dict(precondition_frequency=2.5), r"`precondition_frequency` must be a positive integer"),
        (
            dict(max_precond_dim=True),
            r"`max_precond_dim` must be a positive integer, got max_precond_dim = True",
        ),
        (dict(precondition_1d="yes"), r"`precondition_1d` must be True or False"),
    ],
)
def test_factory_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scale_by_soap(**kwargs)
    with pytest.raises(ValueError, match=match):
        soap(1e-3, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            dict(learning_rate=-1e-3),
            r"`learning_rate` must be positive and finite, got learning_rate = -0\.001",
        ),
        (dict(learning_rate="fast"), r"`learning_rate` must be a positive float or an optax schedule"),
        (dict(learning_rate=1e-3, weight_decay=-0.1), r"`weight_decay` must be >= 0 and finite"),
    ],
)
def test_soap_rejects_bad_learning_rate_and_weight_decay(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soap(**kwargs)
