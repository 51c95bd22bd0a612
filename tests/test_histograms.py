"""Gradient histograms whose bins follow the data: every value in its own bin (as numpy bins
it on the same edges), exact zeros apart, the recorder's arrays and the plots of old and new files."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinnsight.diagnostics import HistogramRecorder, histogram, layer_histograms
from pinnsight.report import plots

BINS = 40


def _values(seed: int, shape: tuple[int, int], n_zeros: int) -> np.ndarray:
    """float32 values of random sign with |v| log-uniform on [1e-15, 1e4], the extremes,
    1e3 and 1596 (the old false spike) explicitly, and ``n_zeros`` exact zeros."""
    rng = np.random.default_rng(seed)
    v = 10.0 ** rng.uniform(-15, 4, size=np.prod(shape)) * rng.choice([-1.0, 1.0], size=np.prod(shape))
    v[:6] = [1e-15, 1e3, -1e4, 1596.0, -1e3, 1.0]
    v[6 : 6 + n_zeros] = 0.0
    return rng.permutation(v).astype(np.float32).reshape(shape)


@pytest.fixture(scope="module")
def kernels():
    return {
        "residual": [jnp.asarray(_values(0, (30, 20), 7)), jnp.asarray(_values(1, (20, 10), 0))],
        "bc": [jnp.asarray(_values(2, (30, 20), 50)), jnp.asarray(_values(3, (20, 10), 3))],
    }


@pytest.fixture(scope="module")
def hist(kernels):
    return jax.tree_util.tree_map(np.asarray, jax.jit(layer_histograms, static_argnums=1)(kernels, BINS))


def test_log_range_is_the_data_range(hist):
    edges = hist["residual"]["log_edges"]
    assert edges.shape == (BINS + 1,)
    # floor(log10 1e-15) = -15 (the smallest nonzero value), ceil(log10 1e4) = 4
    assert edges[0] == -15.0 and edges[-1] == 4.0
    assert np.all(np.diff(edges) > 0)
    for t in hist:
        np.testing.assert_array_equal(hist[t]["log_edges"], edges)


def test_every_value_is_in_its_true_log_bin(kernels, hist):
    edges = hist["residual"]["log_edges"]
    for t, ks in kernels.items():
        for l, k in enumerate(ks):
            v = np.asarray(k).ravel()
            nz = v != 0
            counts = hist[t]["log_counts"][l]
            # the binned quantity, log10|g| in the gradient's dtype, binned by numpy on the same edges
            y = np.asarray(jnp.log10(jnp.abs(k))).ravel()[nz]
            ref, _ = np.histogram(y, bins=edges)
            np.testing.assert_array_equal(counts, ref)  # bin index by bin index
            assert counts.sum() == nz.sum()  # nothing dropped, no zero in a bin
            assert hist[t]["zero_counts"][l] == (~nz).sum()
            # and against the exact float64 log10 wherever rounding cannot move a value over an edge
            y64 = np.log10(np.abs(v[nz].astype(np.float64)))
            clear = np.min(np.abs(y64[:, None] - edges[None, :]), axis=1) > 1e-5
            idx64 = np.searchsorted(edges, y64[clear], side="right") - 1
            idx64[y64[clear] == edges[-1]] = BINS - 1
            idx = np.searchsorted(edges, y[clear], side="right") - 1
            idx[y[clear] == edges[-1]] = BINS - 1
            np.testing.assert_array_equal(idx, idx64)
    # the large values sit in their own bins, not in a spike at an end bin
    r0 = hist["residual"]["log_counts"][0]
    i3 = np.searchsorted(edges, 3.0, side="right") - 1
    assert r0[i3] >= 2  # 1e3 and -1e3
    assert r0[-1] < 0.2 * r0.sum()
    assert r0[np.searchsorted(edges, np.log10(1596.0), side="right") - 1] >= 1


def test_signed_histogram_counts_equal_numpy_on_the_same_edges(kernels, hist):
    for l in range(2):
        m = max(float(np.max(np.abs(np.asarray(kernels[t][l])))) for t in kernels)
        for t, ks in kernels.items():
            edges = hist[t]["edges"][l]
            assert edges[0] == -m and edges[-1] == m  # shared symmetric range of the layer, ±max included
            ref, _ = np.histogram(np.asarray(ks[l]).ravel(), bins=edges)
            np.testing.assert_array_equal(hist[t]["counts"][l], ref)
            assert hist[t]["counts"][l].sum() == ks[l].size


def test_histogram_counts_every_value_in_range_and_clips_none():
    v = jnp.array([0.0, 0.1, 0.5, 0.99999994, 1.0, -0.5, 1.5, jnp.nan])
    c = np.asarray(jax.jit(histogram, static_argnums=3)(v, 0.0, 1.0, 4))
    ref, _ = np.histogram(np.asarray(v)[:5], bins=np.linspace(0, 1, 5, dtype=np.float32))
    np.testing.assert_array_equal(c, ref)  # out of range and NaN are not counted
    assert c.tolist() == [2, 0, 1, 2]


def test_all_zero_and_constant_steps():
    hist = jax.jit(layer_histograms, static_argnums=1)
    zero = hist({"residual": [jnp.zeros((3, 4))]}, 5)["residual"]
    assert int(zero["log_counts"].sum()) == 0 and int(zero["zero_counts"][0]) == 12
    assert int(zero["counts"].sum()) == 12
    ones = hist({"residual": [jnp.ones((3, 4))]}, 5)["residual"]
    np.testing.assert_array_equal(np.asarray(ones["log_edges"])[[0, -1]], [0.0, 1.0])
    assert int(ones["log_counts"][0, 0]) == 12


def _record(rec, kernels, steps):
    groups = ["bc"]
    for s in steps:
        ctx = SimpleNamespace(
            probe={t: [k * (1 + s) for k in ks] for t, ks in kernels.items()},
            problem=SimpleNamespace(groups=groups),
            state=SimpleNamespace(balancer_state=SimpleNamespace(weights={"residual": 1.0, "bc": 10.0})),
            done=s,
        )
        rec.record(ctx)


@pytest.fixture(scope="module")
def recorded(kernels, tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    rec = HistogramRecorder([0, 5, 9], bins=BINS, out_dir=out)
    _record(rec, kernels, [0, 5, 9])
    rec.on_end(None, None)
    return dict(np.load(out / "histograms.npz"))


def test_recorder_arrays_have_consistent_shapes(recorded, kernels):
    s, n_layers = 3, 2
    sizes = np.array([k.size for k in kernels["residual"]])
    np.testing.assert_array_equal(recorded["steps"], [0, 5, 9])
    assert recorded["log_edges"].shape == (s, BINS + 1)
    assert set(map(str, recorded["terms"])) == {"residual", "bc", "bc_weighted"}
    for t in map(str, recorded["terms"]):
        assert recorded[f"{t}/counts"].shape == (s, n_layers, BINS)
        assert recorded[f"{t}/edges"].shape == (s, n_layers, BINS + 1)
        assert recorded[f"{t}/log_counts"].shape == (s, n_layers, BINS)
        assert recorded[f"{t}/zero_counts"].shape == (s, n_layers)
        np.testing.assert_array_equal(recorded[f"{t}/counts"].sum(-1), np.broadcast_to(sizes, (s, n_layers)))
        total = recorded[f"{t}/log_counts"].sum(-1) + recorded[f"{t}/zero_counts"]
        np.testing.assert_array_equal(total, np.broadcast_to(sizes, (s, n_layers)))
    assert "summary/imbalance_bc" in recorded and recorded["summary/imbalance_bc"].shape == (s,)
    # the range of each step follows its data (the gradients of step s are scaled by 1 + s)
    assert recorded["log_edges"][0, -1] < recorded["log_edges"][2, -1]


def _is_png(path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_render_new_and_old_format(recorded, tmp_path):
    old = {k: v for k, v in recorded.items() if not k.endswith("/zero_counts")}
    old["log_edges"] = np.linspace(-12.0, 2.0, BINS + 1)  # files written before the per-step range
    assert _is_png(plots.plot_histograms(recorded, tmp_path / "new.png", step_index=1, title="new"))
    assert _is_png(plots.plot_histograms(recorded, tmp_path / "signed.png", log=False))
    assert _is_png(plots.plot_histograms(old, tmp_path / "old.png", step_index=0))
    pair = plots.plot_histogram_pair({"new": recorded, "old": old}, tmp_path / "pair.png", step_index=-1)
    assert _is_png(pair)


def test_plot_x_axis_is_the_data_range():
    edges = np.linspace(-3.0, 4.0, 8)
    counts = np.array([0, 2, 5, 0, 1, 0, 0])
    fig, ax = plots.plt.subplots()
    plots._crop_to_support([ax], [(counts, edges), (np.array([0, 0, 0, 0, 0, 3, 0]), edges + 0.5)])
    assert ax.get_xlim() == (-2.0, 3.5)
    plots.plt.close(fig)
