"""The doctor's report page: the findings first, then the cure, then the figure of each finding."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..diagnostics.doctor import THRESHOLDS, Diagnosis  # noqa: E402
from . import plots  # noqa: E402

__all__ = ["write_doctor_report", "plot_imbalance", "plot_ntk", "plot_concentration", "plot_training"]


def plot_imbalance(d: Diagnosis, path: Path) -> Path:
    """Effective imbalance ratio per group over the probe, with the doctor's thresholds."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for g, v in d.imbalance.get("groups", {}).items():
        (line,) = ax.semilogy(
            v["steps"], v["effective"], "o-", ms=3, label=f"{g}: max|∇L_r| / mean|∇(λL_{g})|"
        )
        last = float(np.asarray(v["steps"])[-1])
        ax.hlines(v["median"], last / 2, last, colors=line.get_color(), linestyles="-.", label=f"{g}: median")
        if np.any(np.abs(np.asarray(v["lambda"]) - 1) > 1e-12):
            ax.semilogy(v["steps"], v["ratio"], ":", label=f"{g}: unweighted")
    th = THRESHOLDS["gradient_imbalance"]
    ax.axhline(th["mild"], color="orange", ls="--", lw=1, label="mild")
    ax.axhline(th["severe"], color="red", ls="--", lw=1, label="severe")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient imbalance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return plots._save(fig, path)


def plot_stiffness(d: Diagnosis, path: Path) -> Path:
    r"""$\sigma_{\max}$ over the probe beside $2/\eta$ (and the thresholds on $\sigma_{\max}\eta/2$)."""
    st = d.stiffness
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    if len(st.get("steps", [])):
        ax.semilogy(
            st["steps"], st["sigma_max"], "o-", ms=3, label=r"$\sigma_{\max}(\nabla^2_\theta\mathcal{L})$"
        )
        bound = np.asarray(st["stability_bound"])
        ax.semilogy(st["steps"], bound, "k--", label=r"$2/\eta(t)$")
        th = THRESHOLDS["stiffness"]
        ax.semilogy(
            st["steps"],
            bound * th["mild"],
            color="orange",
            ls=":",
            lw=1,
            label=f"{th['mild']:g} x 2/η (mild)",
        )
        ax.semilogy(
            st["steps"],
            bound * th["severe"],
            color="red",
            ls=":",
            lw=1,
            label=f"{th['severe']:g} x 2/η (severe)",
        )
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return plots._save(fig, path)


def plot_ntk(d: Diagnosis, path: Path) -> Path:
    """Top NTK eigenvalues of each term at each recorded step, and the mean NTK diagonals."""
    ntk = d.ntk
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = [":", "--", "-"]
    steps = ntk.get("steps", [])
    for c, (term, v) in enumerate(ntk.get("terms", {}).items()):
        for i, (s, eig) in enumerate(zip(steps, v["eigenvalues"], strict=True)):
            eig = np.asarray(eig, float)
            eig = eig[eig > 0]
            ls = styles[max(len(styles) - len(steps) + i, 0) % len(styles)]
            axes[0].semilogy(
                np.arange(1, eig.size + 1), eig, ls, color=colors[c % len(colors)], label=f"{term}, step {s}"
            )
        axes[1].semilogy(steps, v["mean_diagonal"], "o-", color=colors[c % len(colors)], label=term)
    axes[0].set_xlabel("index i")
    axes[0].set_ylabel(r"eigenvalue $\lambda_i$ of $K = JJ^\top$")
    axes[0].set_title("NTK spectra per term")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("tr K / n (mean NTK diagonal)")
    axes[1].set_title("NTK traces per point")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return plots._save(fig, path)


def plot_concentration(d: Diagnosis, problem, path: Path) -> Path:
    """|error| and |residual| of the final network with the regions and their shares."""
    conc = d.concentration
    ref = problem.reference_data
    err = np.sqrt(np.asarray(d.fields["error2"]))
    res = np.sqrt(np.asarray(d.fields["residual2"]))
    dom = problem.domain
    names = dom.names
    es, rs = conc["error_share"], conc["residual_share"]
    if dom.dim == 1:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        x = ref.points[:, 0]
        order = np.argsort(x)
        edges = np.linspace(dom.lo[0], dom.hi[0], len(conc["regions"]) + 1)
        for ax, q, share, title in ((axes[0], err, es, "|error|"), (axes[1], res, rs, "|residual|")):
            ax.semilogy(x[order], q[order] + 1e-30)
            for i in range(len(edges) - 1):
                ax.axvline(edges[i], color="gray", lw=0.5)
                ax.text(
                    (edges[i] + edges[i + 1]) / 2,
                    0.95,
                    f"{100 * share[i]:.0f}%",
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="top",
                    fontsize=9,
                )
            ax.set_title(f"{title} (share of the squared total per region)")
            ax.set_xlabel(names[0])
        return plots._save(fig, path)
    if dom.dim != 2 or ref.shape is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.bar(range(len(es)), es, label="error")
        ax.bar(range(len(rs)), rs, alpha=0.5, label="residual")
        ax.set_xticks(range(len(es)), conc["regions"], rotation=30, fontsize=7)
        ax.set_ylabel("share of the squared total")
        ax.legend()
        return plots._save(fig, path)
    shape = ref.shape
    extent = (dom.lo[0], dom.hi[0], dom.lo[1], dom.hi[1])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    time_axis = names.index("t") if "t" in names else None
    for ax, q, share, title in ((axes[0], err, es, "|error|"), (axes[1], res, rs, "|residual|")):
        im = ax.imshow(q.reshape(shape).T, origin="lower", extent=extent, aspect="auto", cmap="magma")
        fig.colorbar(im, ax=ax)
        if time_axis is None:
            mids = [(dom.lo[a] + dom.hi[a]) / 2 for a in range(2)]
            ax.axvline(mids[0], color="w", lw=0.8)
            ax.axhline(mids[1], color="w", lw=0.8)
            for r, s in enumerate(share):
                cx = (dom.lo[0] + mids[0]) / 2 if not r & 1 else (mids[0] + dom.hi[0]) / 2
                cy = (dom.lo[1] + mids[1]) / 2 if not r & 2 else (mids[1] + dom.hi[1]) / 2
                ax.text(cx, cy, f"{100 * s:.0f}%", color="w", ha="center", va="center", fontsize=11)
        else:
            edges = np.linspace(dom.lo[time_axis], dom.hi[time_axis], len(share) + 1)
            other = 1 - time_axis
            mid_o = (dom.lo[other] + dom.hi[other]) / 2
            for i, s in enumerate(share):
                c = (edges[i] + edges[i + 1]) / 2
                xy = (c, mid_o) if time_axis == 0 else (mid_o, c)
                (ax.axvline if time_axis == 0 else ax.axhline)(edges[i], color="w", lw=0.8)
                ax.text(*xy, f"{100 * s:.0f}%", color="w", ha="center", va="center", fontsize=11)
        ax.set_title(f"{title} (share of the squared total per region)")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    return plots._save(fig, path)


def plot_training(histories: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Relative L2 error and total loss over the probe, one line per run."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, h in histories.items():
        if len(h.get("step", [])):
            axes[0].semilogy(h["step"], h["error"], label=label)
            axes[1].semilogy(h["step"], h["loss"], label=label)
    axes[0].set_ylabel("relative L2 error")
    axes[1].set_ylabel("weighted loss")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return plots._save(fig, path)


def _findings_table(d: Diagnosis) -> str:
    from ..experiments.doctor import describe_keys  # as the proposed cure: words `--set` reads back

    rows = []
    for f in d.findings:
        cure = f.cure.get("advice", "") if f.severity != "none" else ""
        keys = describe_keys(f.cure.get("set", {})) if cure else ""
        rows.append(
            [
                f.pathology,
                f.severity.upper() if f.severity == "severe" else f.severity,
                f.message,
                f"{cure} {keys}".strip(),
            ]
        )
    return plots.format_table(["pathology", "severity", "evidence", "cure"], rows)


def write_doctor_report(
    out: Path,
    diagnosis: Diagnosis,
    *,
    problem=None,
    after: Diagnosis | None = None,
    cure_run: dict[str, Any] | None = None,
    config=None,
    cure_keys: dict[str, Any] | None = None,
) -> Path:
    """Draw the doctor's figures into ``out`` and write ``out/report.html`` (findings first);
    ``cure_keys``: the cure as keys of the user's config (default ``diagnosis.cure()``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = diagnosis
    problem = problem if problem is not None else d.problem_object
    figs = {
        "imbalance": plot_imbalance(d, out / d.imbalance["figure"]),
        "stiffness": plot_stiffness(d, out / d.stiffness["figure"]),
        "ntk": plot_ntk(d, out / d.ntk["figure"]),
        "training": plot_training({"probe": d.history}, out / "training.png"),
    }
    if problem is not None and d.fields:
        figs["concentration"] = plot_concentration(d, problem, out / d.concentration["figure"])
    s = d.summary
    where = f"recipe {config.recipe}, " if config is not None else ""
    intro = (
        f"Problem `{d.problem}` {dict(problem.params) if problem is not None else ''}; {where}probe of "
        f"{d.steps} steps: relative L2 {_num(s.get('final_error'))}, status {s.get('status')}. "
        f"Probe training {d.timings['probe_train_s']:.1f} s, "
        f"diagnostics {d.timings['diagnostics_s']:.1f} s.\n\n" + _findings_table(d)
    )
    keys = d.cure() if cure_keys is None else cure_keys
    intro += "\n\nProposed cure: " + (
        " ".join(f"`{k}={v}`" for k, v in keys.items()) if keys else "none needed."
    )
    sections: list[tuple[str, str, list]] = [("Findings", intro, [])]
    if cure_run is not None and after is not None:
        rows = [["relative L2 error", _num(cure_run["error_before"]), _num(cure_run["error_after"])]]
        for p, sev in cure_run["severity_before"].items():
            rows.append([p, sev, cure_run["severity_after"].get(p, "")])
        text = (
            f"Baseline and cure (`{cure_run['recipe']}`), {cure_run['steps']} steps each, same seed: "
            f"the error falls {cure_run['improvement']:.3g}x.\n\n"
            + plots.format_table(["", "baseline", "cure"], rows)
        )
        img = plot_training({"baseline": d.history, "cure": after.history}, out / "cure.png")
        sections.append(("Cure, side by side", text, [img]))
    elif cure_run is not None:
        sections.append(("Cure", cure_run.get("note", ""), []))
    for f in d.findings:
        key = f.pathology
        img = {
            "gradient_imbalance": ["imbalance"],
            "stiffness": ["stiffness"],
            "spectral_bias": ["ntk"],
            "error_concentration": ["concentration"],
            "divergence": ["training"],
        }[key]
        sections.append((f"{key} ({f.severity})", f.message, [figs[k] for k in img if k in figs]))
    return plots.write_report(out, f"pinnsight doctor: {d.problem}", sections)


def _num(v) -> str:
    return f"{v:.3e}" if isinstance(v, int | float) and np.isfinite(v) else str(v)
