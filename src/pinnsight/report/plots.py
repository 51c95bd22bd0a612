"""Plots (matplotlib, Agg, PNG) and the one-page report of a run or a comparison."""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "plot_fields",
    "plot_curves",
    "plot_histograms",
    "plot_histogram_pair",
    "plot_stiffness",
    "plot_coefficients",
    "write_report",
    "format_table",
]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def predict(problem, net) -> tuple[np.ndarray, np.ndarray]:
    """(reference values, predicted observable) on the reference points, in the network's own
    precision: a float64 network (a ``run.x64`` run) is evaluated with float64 switched on,
    whatever the caller's setting, so that neither it nor the points are cut to float32."""
    import jax
    import jax.numpy as jnp

    leaves = jax.tree_util.tree_leaves(net)
    float64 = any(getattr(a, "dtype", None) == np.float64 for a in leaves)
    with jax.enable_x64(True) if float64 else contextlib.nullcontext():
        ref = problem.reference_data
        pts = jnp.asarray(ref.points, dtype=jnp.result_type(float))
        pred = np.asarray(jax.jit(lambda p: problem.observe(net, p))(pts))
    return np.asarray(ref.values), pred


def plot_fields(problem, nets: Mapping[str, Any], path: str | Path) -> Path:
    """Reference, prediction and |error| of the observable for each model (one row each); in
    three or more dimensions, on the plane of the last two coordinates through the middle of
    the grid's other axes (``heat3d``: the (x, y) plane at the middle time)."""
    ref = problem.reference_data
    preds = {label: predict(problem, net)[1] for label, net in nets.items()}
    names = problem.domain.names
    dim = problem.domain.dim
    rows = len(preds)
    if dim == 1:
        fig, axes = plt.subplots(rows, 2, figsize=(9, 2.8 * rows), squeeze=False)
        x = ref.points[:, 0]
        order = np.argsort(x)
        for r, (label, pred) in enumerate(preds.items()):
            ax = axes[r, 0]
            ax.plot(x[order], ref.values[order, 0], "k-", lw=2, label=ref.label)
            ax.plot(x[order], pred[order, 0], "r--", lw=1.5, label=label)
            ax.set_title(f"{label}: solution")
            ax.set_xlabel(names[0])
            ax.legend()
            ax = axes[r, 1]
            ax.semilogy(x[order], np.abs(pred - ref.values)[order, 0] + 1e-16)
            ax.set_title(f"{label}: |error|")
            ax.set_xlabel(names[0])
        return _save(fig, Path(path))
    shape = ref.shape
    lo, hi = problem.domain.lo, problem.domain.hi
    i, j = dim - 2, dim - 1  # the plotted plane; the leading axes at their middle index
    lead = tuple(n // 2 for n in shape[:-2])
    at = ref.points.reshape(*shape, dim)[lead][0, 0]
    where = "".join(f", {names[k]} = {at[k]:.3g}" for k in range(dim - 2))

    def plane(a: np.ndarray) -> np.ndarray:
        return a.reshape(shape)[lead]

    extent = (lo[i], hi[i], lo[j], hi[j])
    fig, axes = plt.subplots(rows, 3, figsize=(12, 3.4 * rows), squeeze=False)
    refv = plane(np.linalg.norm(ref.values, axis=-1))
    for r, (label, pred) in enumerate(preds.items()):
        predv = np.linalg.norm(pred, axis=-1) if pred.shape[-1] > 1 else pred[:, 0]
        refr = refv if pred.shape[-1] > 1 else plane(ref.values[:, 0])
        err = plane(np.linalg.norm(pred - ref.values, axis=-1))
        panels = [
            (refr, f"{ref.label}{where}", "viridis"),
            (plane(predv), f"{label}: predicted{where}", "viridis"),
            (err, f"{label}: |error|{where}", "magma"),
        ]
        vmin, vmax = float(refr.min()), float(refr.max())
        for c, (field, title, cmap) in enumerate(panels):
            ax = axes[r, c]
            kw = {"vmin": vmin, "vmax": vmax} if c < 2 else {}
            im = ax.imshow(field.T, origin="lower", extent=extent, cmap=cmap, aspect="auto", **kw)
            ax.set_title(title)
            ax.set_xlabel(names[i])
            ax.set_ylabel(names[j])
            fig.colorbar(im, ax=ax)
    return _save(fig, Path(path))


def plot_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    prefix: str,
    path: str | Path,
    *,
    ylabel: str,
    logy: bool = True,
    skip: Sequence[str] = (),
) -> Path | None:
    """One panel per model: every history column starting with ``prefix`` over steps."""
    labels = [lab for lab, h in histories.items() if any(k.startswith(prefix) for k in h)]
    if not labels:
        return None
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.4), squeeze=False)
    for ax, label in zip(axes[0], labels, strict=True):
        h = histories[label]
        for k, v in h.items():
            if k.startswith(prefix) and k not in skip:
                (ax.semilogy if logy else ax.plot)(h["step"], v, label=k[len(prefix) :] or k)
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_coefficients(
    history: Mapping[str, Sequence[float]], truths: Mapping[str, float | None], path: str | Path
) -> Path | None:
    """One panel per trainable coefficient (history columns ``coef_<name>``) over steps, with
    its true value dashed when ``truths`` knows it; None when there are none."""
    names = [k[len("coef_") :] for k in history if k.startswith("coef_")]
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        v = np.asarray(history[f"coef_{name}"], dtype=float)
        ax.plot(history["step"], v, label="learned")
        title, true = f"{name} = {v[-1]:.6g}", truths.get(name)
        if true is not None:
            ax.axhline(true, ls="--", color="k", lw=1, label="truth")
            if true:
                title += f" ({100 * abs(v[-1] - true) / abs(true):.3g} % off)"
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_error_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], path) -> Path:
    """Relative L2 error over steps, all models in one panel."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, h in histories.items():
        ax.semilogy(h["step"], h["error"], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("relative L2 error")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, Path(path))


def _density(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and the density of ``counts`` on ``edges`` (integrates to 1 over the binned values)."""
    counts, edges = np.asarray(counts, dtype=float), np.asarray(edges, dtype=float)
    widths = np.diff(edges)
    dens = counts / max(counts.sum(), 1) / np.where(widths > 0, widths, 1.0)
    return 0.5 * (edges[1:] + edges[:-1]), dens


def _log_edges(data: Mapping[str, np.ndarray], step_index: int) -> np.ndarray:
    r"""The $\log_{10}|g|$ edges of a step: ``log_edges`` is (S, B+1), per step, or (B+1,) in old files."""
    edges = np.asarray(data["log_edges"])
    return edges if edges.ndim == 1 else edges[step_index]


def _log_label(data: Mapping[str, np.ndarray], t: str, step_index: int, l: int) -> str:
    """The term's label, with the share of exact zeros (in no log bin) when there are any."""
    label = _term_label(t)
    key = f"{t}/zero_counts"
    if key in data:
        zeros = int(data[key][step_index, l])
        total = zeros + int(np.sum(data[f"{t}/log_counts"][step_index, l]))
        if zeros:
            label += f" ({zeros / max(total, 1):.0%} zero)"
    return label


def plot_histograms(
    data: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    step_index: int = -1,
    terms: Sequence[str] | None = None,
    log: bool = True,
    title: str = "",
) -> Path:
    r"""The paper's figure: one panel per layer, gradient densities of each term overlaid.

    With ``log=True`` the x axis is $\log_{10}|\nabla_W\mathcal{L}|$ (reads better when one
    term is a spike at zero) over the range the nonzero gradients of the step cover (exact
    zeros are in no bin: their share is in the legend); otherwise the signed values on a
    shared symmetric range. Reads ``log_edges`` per step (S, B+1) or, from old files, (B+1,).
    """
    all_terms = [str(t) for t in data["terms"]]
    if terms is None:
        terms = ["residual"] + [t for t in all_terms if t.endswith("_weighted")]
    n_layers = data[f"{terms[0]}/counts"].shape[1]
    step = int(data["steps"][step_index])
    log_edges = _log_edges(data, step_index) if log else None
    fig, axes = plt.subplots(1, n_layers, figsize=(3.3 * n_layers, 3.0), squeeze=False)
    for l, ax in enumerate(axes[0]):
        for t in terms:
            if log:
                c, e = data[f"{t}/log_counts"][step_index, l], log_edges
                label = _log_label(data, t, step_index, l)
            else:
                c, e = data[f"{t}/counts"][step_index, l], data[f"{t}/edges"][step_index, l]
                label = _term_label(t)
            x, dens = _density(c, e)
            ax.plot(x, dens, label=label)
            ax.fill_between(x, dens, alpha=0.2)
        ax.set_title(f"layer {l + 1}")
        ax.set_xlabel(r"$\log_{10}|\nabla_W \mathcal{L}|$" if log else r"$\nabla_W \mathcal{L}$")
        if l == 0:
            ax.set_ylabel("density")
        if l == 0 or _has_zero_share(ax):
            ax.legend(fontsize=8)
    if log:
        pairs = [(data[f"{t}/log_counts"][step_index, l], log_edges) for t in terms for l in range(n_layers)]
        _crop_to_support(axes[0], pairs)
    fig.suptitle(f"{title} gradients at step {step}".strip())
    return _save(fig, Path(path))


def _has_zero_share(ax) -> bool:
    """Whether a line of ``ax`` carries a share of zeros (then each panel shows its legend)."""
    return any(line.get_label().endswith(" zero)") for line in ax.get_lines())


def _crop_to_support(axes, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Set the x range of ``axes`` to the bins holding data, over all ``(counts, edges)`` pairs
    (the edges may differ between pairs, e.g. two runs)."""
    lo, hi = np.inf, -np.inf
    for counts, edges in pairs:
        support = np.nonzero(np.asarray(counts) > 0)[0]
        if support.size:
            lo = min(lo, float(edges[support[0]]))
            hi = max(hi, float(edges[support[-1] + 1]))
    if hi > lo:
        for ax in axes:
            ax.set_xlim(lo, hi)


def _term_label(t: str) -> str:
    if t == "residual":
        return r"$\nabla\mathcal{L}_r$"
    if t.endswith("_weighted"):
        return rf"$\nabla(\lambda\mathcal{{L}}_{{{t[: -len('_weighted')]}}})$"
    return rf"$\nabla\mathcal{{L}}_{{{t}}}$"


def plot_histogram_pair(
    datasets: Mapping[str, Mapping[str, np.ndarray]],
    path: str | Path,
    *,
    step_index: int = -1,
) -> Path:
    r"""Histograms of several runs (e.g. M1 vs M2) in rows, one panel per layer, on one
    $\log_{10}|g|$ axis covering the data of all of them (each run binned on its own edges)."""
    rows = len(datasets)
    first = next(iter(datasets.values()))
    n_layers = first["residual/counts"].shape[1]
    fig, axes = plt.subplots(rows, n_layers, figsize=(3.3 * n_layers, 2.9 * rows), squeeze=False)
    pairs = []
    for r, (label, data) in enumerate(datasets.items()):
        terms = ["residual"] + [str(t) for t in data["terms"] if str(t).endswith("_weighted")]
        edges = _log_edges(data, step_index)
        for l in range(n_layers):
            ax = axes[r, l]
            for t in terms:
                counts = data[f"{t}/log_counts"][step_index, l]
                pairs.append((counts, edges))
                x, dens = _density(counts, edges)
                ax.plot(x, dens, label=_log_label(data, t, step_index, l))
                ax.fill_between(x, dens, alpha=0.2)
            ax.set_title(f"{label}, layer {l + 1}, step {int(data['steps'][step_index])}")
            ax.set_xlabel(r"$\log_{10}|\nabla_W\mathcal{L}|$")
            if l == 0 or _has_zero_share(ax):
                ax.legend(fontsize=8)
    _crop_to_support(axes.ravel(), pairs)
    return _save(fig, Path(path))


def plot_stiffness(series: Mapping[str, Mapping[str, Sequence[float]]], path) -> Path:
    r"""$\sigma_{\max}$ over steps for each series, with the stability bound $2/\eta(t)$."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    bound = None
    for label, s in series.items():
        ax.semilogy(s["step"], s["sigma_max"], marker="o", ms=3, label=label)
        bound = s
    if bound is not None:
        ax.semilogy(bound["step"], bound["stability_bound"], "k--", label=r"$2/\eta(t)$")
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\sigma_{\max}(\nabla^2_\theta \mathcal{L})$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3e}" if (abs(v) < 1e-2 or abs(v) >= 1e4) and v != 0 else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(
    folder: str | Path,
    title: str,
    sections: Sequence[tuple[str, str, Sequence[str | Path]]],
) -> Path:
    """``report.md`` and ``report.html`` in ``folder``: per section a heading, Markdown
    text (tables allowed) and images (paths relative to ``folder``)."""
    folder = Path(folder)
    md = [f"# {title}", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, text, images in sections:
        md += [f"## {heading}", "", text, ""]
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(_md_to_html(text))
        for img in images:
            rel = Path(os.path.relpath(Path(img).resolve(), folder.resolve()))
            md += [f"![{rel.stem}]({rel.as_posix()})", ""]
            body.append(f'<p><img src="{rel.as_posix()}" style="max-width:100%"></p>')
    (folder / "report.md").write_text("\n".join(md) + "\n")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
        "max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 8px;text-align:right}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    (folder / "report.html").write_text(page)
    return folder / "report.html"


def _md_to_html(text: str) -> str:
    out, table = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            cells = [r.strip("|").split("|") for r in table if not set(r) <= set("|-: ")]
            head, *rest = cells
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c.strip())}</th>" for c in head) + "</tr>")
            for r in rest:
                out.append("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>")
            out.append("</table>")
            table = []
        if line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    return "\n".join(out)
