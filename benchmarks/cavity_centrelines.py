"""A trained cavity run against Ghia, Ghia & Shin (1982): centrelines and the primary vortex.

    python benchmarks/cavity_centrelines.py RUN_DIR [RUN_DIR ...] [--data ../shared/data]

For each run (a `pinnsight train cavity ...` folder; its Re is read from the run, 100, 400
or 1000) prints a Markdown table of the PINN's $u(0.5, y)$ and $v(x, 0.5)$ beside our
finite-difference reference and Ghia's table at Ghia's 17 points each, the max |PINN -
Ghia| of each profile, and the primary vortex's centre: the extremum of $\\psi$ (minus its
mean on the walls) on a 201² grid refined by a parabola through its neighbours, for the
PINN and for our reference, beside Ghia's published centre (their Table 5).
Ghia's tables come from ``--data`` (default ``../shared/data``); the vortex centres below are
published numbers.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import pinnsight as ps
from pinnsight.problems.cavity import velocity
from pinnsight.reference import cavity_reference

# Ghia, Ghia & Shin, J. Comput. Phys. 48 (1982), Table 5: primary vortex centre (x, y).
GHIA_PRIMARY_VORTEX = {100.0: (0.6172, 0.7344), 400.0: (0.5547, 0.6055), 1000.0: (0.5313, 0.5625)}


def ghia_profiles(data: Path, re: float) -> tuple[np.ndarray, np.ndarray]:
    """Ghia's (y, u(0.5, y)) and (x, v(x, 0.5)) rows at ``re``."""
    rows = [r for r in csv.DictReader((data / "ghia1982_centerlines_re100_400_1000.csv").open())]
    rows = [r for r in rows if float(r["Re"]) == re]
    if not rows:
        raise SystemExit(f"error: Ghia's table has no Re = {re:g} (it has 100, 400, 1000)")

    def profile(name: str) -> np.ndarray:
        return np.array([[float(r["coord"]), float(r["value"])] for r in rows if r["profile"] == name])

    return profile("u_at_x0.5"), profile("v_at_y0.5")


def vortex_centre(psi: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """Centre of the primary vortex from ``psi[i, j]`` at ``(xs[i], xs[j])``: the largest
    $|\\psi - \\bar\\psi_{wall}|$ inside, refined by a parabola through its neighbours."""
    wall = np.concatenate([psi[0], psi[-1], psi[:, 0], psi[:, -1]]).mean()
    a = np.abs(psi - wall)
    i, j = np.unravel_index(np.argmax(a[1:-1, 1:-1]), (len(xs) - 2, len(xs) - 2))
    i, j = i + 1, j + 1
    h = xs[1] - xs[0]

    def vertex(fm: float, f0: float, fp: float) -> float:
        den = fm - 2.0 * f0 + fp
        return 0.0 if den == 0 else 0.5 * (fm - fp) / den

    return float(xs[i] + h * vertex(a[i - 1, j], a[i, j], a[i + 1, j])), float(
        xs[j] + h * vertex(a[i, j - 1], a[i, j], a[i, j + 1])
    )


def pinn_fields(problem, net, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's (psi, (u, v)) at ``points`` (N, 2)."""
    u = problem.point_function(net)
    pts = jnp.asarray(points, dtype=jnp.result_type(float))
    psi = jax.jit(jax.vmap(lambda x: u(x)[0]))(pts)
    uv = jax.jit(jax.vmap(velocity(u)))(pts)
    return np.asarray(psi, float), np.asarray(uv, float)


def report(run_dir: str, data: Path) -> None:
    config, problem, net = ps.load_run(run_dir)
    re = float(problem.params["Re"])
    gu, gv = ghia_profiles(data, re)
    ref = cavity_reference(re, int(problem.params.get("grid", 160)))
    _, uv_u = pinn_fields(problem, net, np.stack([np.full(len(gu), 0.5), gu[:, 0]], 1))
    _, uv_v = pinn_fields(problem, net, np.stack([gv[:, 0], np.full(len(gv), 0.5)], 1))
    ru, _ = ref.velocity(np.full(len(gu), 0.5), gu[:, 0])
    _, rv = ref.velocity(gv[:, 0], np.full(len(gv), 0.5))
    print(f"\n### {run_dir}: cavity Re = {re:g}, recipe {config.recipe}, seed {config.run.seed}\n")
    print("| y | u(0.5, y) PINN | ours FD | Ghia | x | v(x, 0.5) PINN | ours FD | Ghia |")
    print("|---|---|---|---|---|---|---|---|")
    for k in range(len(gu)):
        print(
            f"| {gu[k, 0]:.4f} | {uv_u[k, 0]:.4f} | {ru[k]:.4f} | {gu[k, 1]:.4f} "
            f"| {gv[k, 0]:.4f} | {uv_v[k, 1]:.4f} | {rv[k]:.4f} | {gv[k, 1]:.4f} |"
        )
    du, dv = np.abs(uv_u[:, 0] - gu[:, 1]), np.abs(uv_v[:, 1] - gv[:, 1])
    print(f"\nmax |PINN - Ghia|: u {du.max():.4f} (at y = {gu[np.argmax(du), 0]:.4f}), "
          f"v {dv.max():.4f} (at x = {gv[np.argmax(dv), 0]:.4f})")  # fmt: skip
    xs = np.linspace(0.0, 1.0, 201)
    grid = np.stack(np.meshgrid(xs, xs, indexing="ij"), -1).reshape(-1, 2)
    psi, _ = pinn_fields(problem, net, grid)
    pinn_c = vortex_centre(psi.reshape(len(xs), len(xs)), xs)
    ref_c = vortex_centre(ref.psi, ref.x)
    ghia_c = GHIA_PRIMARY_VORTEX.get(re)
    print(
        f"primary vortex centre: PINN ({pinn_c[0]:.4f}, {pinn_c[1]:.4f}), ours FD "
        f"({ref_c[0]:.4f}, {ref_c[1]:.4f})"
        + (
            f", Ghia ({ghia_c[0]:.4f}, {ghia_c[1]:.4f}); PINN - Ghia distance "
            f"{np.hypot(pinn_c[0] - ghia_c[0], pinn_c[1] - ghia_c[1]):.4f}"
            if ghia_c
            else ""
        )  # fmt: skip
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="+")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "ghia1982_centerlines_re100_400_1000.csv").exists():
        raise SystemExit(
            f"error: no ghia1982_centerlines_re100_400_1000.csv in {data}; name the folder with --data"
        )
    for run_dir in args.run_dir:
        report(run_dir, data)


if __name__ == "__main__":
    main()
