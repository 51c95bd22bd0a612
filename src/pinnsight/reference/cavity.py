r"""Steady lid-driven cavity by finite differences and Newton's method (no network).

Stream function–vorticity form on $[0,1]^2$, $u=\psi_y$, $v=-\psi_x$,
$\omega = v_x - u_y = -\Delta\psi$:

$$ \Delta\psi + \omega = 0,\qquad
   \psi_y\,\omega_x - \psi_x\,\omega_y - \tfrac{1}{Re}\Delta\omega = 0 , $$

with $\psi = 0$ on the walls, lid velocity $u = 1$ at $y = 1$ and no slip elsewhere.
Second-order central differences on a uniform $(N+1)^2$ grid; wall vorticity from
Thom's formula ($\omega_w = -2\psi_{1}/h^2 - 2U_w/h$, $\psi_1$ the first interior
value). The discrete steady equations are solved by Newton's method with the exact
sparse Jacobian (SuperLU), continuing in $Re$ from 100 for higher Reynolds numbers.

`solve_cavity` returns the velocity on the grid; `cavity_reference` caches it to disk
(``~/.cache/pinnsight`` or ``$PINNSIGHT_CACHE``) and interpolates it anywhere.
Validated against Ghia, Ghia & Shin (1982) in ``tests/test_reference.py`` and
docs/RESULTS.md.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.interpolate import RectBivariateSpline

__all__ = ["CavitySolution", "solve_cavity", "cavity_reference", "cache_dir", "solver_bytes"]


@dataclass(frozen=True)
class CavitySolution:
    """Velocity and stream function on the nodes ``x = y = linspace(0, 1, N+1)``.

    Arrays are indexed ``[i, j]`` with ``x[i]``, ``y[j]``.
    """

    re: float
    n: int
    x: np.ndarray
    psi: np.ndarray
    u: np.ndarray
    v: np.ndarray
    newton_iterations: int
    residual_norm: float
    seconds: float

    def velocity(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) at arbitrary points by bicubic interpolation of the grid values."""
        su = RectBivariateSpline(self.x, self.x, self.u, kx=3, ky=3)
        sv = RectBivariateSpline(self.x, self.x, self.v, kx=3, ky=3)
        return su.ev(x, y), sv.ev(x, y)


def _operators(n: int):
    """Sparse maps on the full grid (N+1)^2 -> interior rows (N-1)^2, and embeddings."""
    N = n
    h = 1.0 / N
    m = N - 1
    full = (N + 1) ** 2

    def idx(i, j):
        return i * (N + 1) + j

    ii, jj = np.meshgrid(np.arange(1, N), np.arange(1, N), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    rows = np.arange(m * m)

    def stencil(offsets):
        r, c, v = [], [], []
        for (di, dj), w in offsets:
            r.append(rows)
            c.append(idx(ii + di, jj + dj))
            v.append(np.full(rows.shape, w))
        return sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(m * m, full))

    lap = stencil(
        [
            ((1, 0), 1 / h**2),
            ((-1, 0), 1 / h**2),
            ((0, 1), 1 / h**2),
            ((0, -1), 1 / h**2),
            ((0, 0), -4 / h**2),
        ]
    )
    dx = stencil([((1, 0), 0.5 / h), ((-1, 0), -0.5 / h)])
    dy = stencil([((0, 1), 0.5 / h), ((0, -1), -0.5 / h)])
    # embedding of interior unknowns into the full grid
    embed = sp.csr_matrix((np.ones(m * m), (idx(ii, jj), rows)), shape=(full, m * m))
    # Thom's formula: wall vorticity from the adjacent interior psi (interior unknown index)
    r, c, v = [], [], []
    lid = np.zeros(full)
    inner = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ii, jj, strict=True))}
    for k in range(1, N):
        for wall, nb in (((k, 0), (k, 1)), ((k, N), (k, N - 1)), ((0, k), (1, k)), ((N, k), (N - 1, k))):
            r.append(idx(*wall))
            c.append(inner[nb])
            v.append(-2.0 / h**2)
        lid[idx(k, N)] = -2.0 / h  # moving lid, U = 1
    thom = sp.csr_matrix((v, (r, c)), shape=(full, m * m))
    return lap, dx, dy, embed, thom, lid


def solve_cavity(
    re: float = 100.0,
    n: int = 128,
    *,
    tol: float = 1e-10,
    max_iter: int = 30,
    continuation: tuple[float, ...] = (100.0, 400.0, 1000.0),
) -> CavitySolution:
    r"""Solve the steady cavity at Reynolds number ``re`` on an ``(n+1)^2`` grid.

    Newton iterations stop when the max-norm of the discrete residual is below ``tol``
    (relative to its value at zero flow). For ``re`` above 100 the solution is continued
    through the smaller values of ``continuation``.
    """
    if not 0 < re <= 5000:
        raise ValueError(f"`re` must be in (0, 5000], got re = {re}.")
    if n < 8:
        raise ValueError(f"`n` must be >= 8 grid cells, got n = {n}.")
    t0 = time.perf_counter()
    lap, dx, dy, embed, thom, lid = _operators(n)
    m2 = (n - 1) ** 2
    lap_e, dx_e, dy_e = lap @ embed, dx @ embed, dy @ embed
    lap_t, dx_t, dy_t = lap @ thom, dx @ thom, dy @ thom
    eye = sp.identity(m2, format="csr")
    psi = np.zeros(m2)
    omega = np.zeros(m2)
    iters_total, res_norm = 0, np.inf
    for stage_re in [r for r in continuation if r < re] + [re]:
        scale = None
        for _ in range(max_iter):
            Psi = embed @ psi
            Om = embed @ omega + thom @ psi + lid
            f1 = lap @ Psi + omega
            uy, ux = dy @ Psi, dx @ Psi
            ox, oy = dx @ Om, dy @ Om
            f2 = uy * ox - ux * oy - (lap @ Om) / stage_re
            F = np.concatenate([f1, f2])
            res_norm = float(np.max(np.abs(F)))
            scale = scale or max(res_norm, 1e-300)
            if res_norm <= tol * scale:
                break
            j21 = (
                sp.diags(ox) @ dy_e
                + sp.diags(uy) @ dx_t
                - sp.diags(oy) @ dx_e
                - sp.diags(ux) @ dy_t
                - lap_t / stage_re
            )
            j22 = sp.diags(uy) @ dx_e - sp.diags(ux) @ dy_e - lap_e / stage_re
            J = sp.bmat([[lap_e, eye], [j21, j22]], format="csc")
            delta = spla.spsolve(J, -F)
            psi = psi + delta[:m2]
            omega = omega + delta[m2:]
            iters_total += 1
        else:
            raise RuntimeError(
                f"cavity Newton solve did not converge at Re = {stage_re} on n = {n} "
                f"(residual {res_norm:.2e}); try a finer grid."
            )
    N = n
    h = 1.0 / N
    Psi = (embed @ psi).reshape(N + 1, N + 1)
    u = np.zeros_like(Psi)
    v = np.zeros_like(Psi)
    u[1:-1, 1:-1] = (Psi[1:-1, 2:] - Psi[1:-1, :-2]) / (2 * h)
    v[1:-1, 1:-1] = -(Psi[2:, 1:-1] - Psi[:-2, 1:-1]) / (2 * h)
    u[:, -1] = 1.0  # lid (corners included, as the PINN boundary data)
    x = np.linspace(0.0, 1.0, N + 1)
    return CavitySolution(re, n, x, Psi, u, v, iters_total, res_norm, time.perf_counter() - t0)


def cache_dir() -> Path:
    """Where reference solutions are cached (``$PINNSIGHT_CACHE`` or ``~/.cache/pinnsight``)."""
    return Path(os.environ.get("PINNSIGHT_CACHE", Path.home() / ".cache" / "pinnsight"))


def solver_bytes(n: int) -> int:
    r"""Peak memory of `solve_cavity` on an ``n x n`` grid, about $256\,N\log_2 N$ bytes for the
    $N = 2(n-1)^2$ unknowns (SuperLU's fill-in; measured 94 MiB at n = 128, 435 MiB at 256)."""
    unknowns = 2 * max(n - 1, 1) ** 2
    return int(256 * unknowns * max(math.log2(unknowns), 1.0))


def cavity_reference(re: float = 100.0, n: int = 128) -> CavitySolution:
    """`solve_cavity`, cached on disk after the first run (keyed by Re and n); a grid whose
    solve will not fit in memory is refused first (`pinnsight.memory.MemoryEstimateError`)."""
    path = cache_dir() / f"cavity_re{re:g}_n{n}.npz"
    if not path.exists():
        from ..memory import check

        check(
            solver_bytes(n),
            f"the cavity's finite-difference reference on a {n}x{n} grid",
            "lower the cavity's `grid` parameter (--set grid=160)",
        )
    if path.exists():
        d = np.load(path)
        return CavitySolution(
            re, n, d["x"], d["psi"], d["u"], d["v"], int(d["iters"]), float(d["res"]), float(d["seconds"])
        )
    sol = solve_cavity(re, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        x=sol.x,
        psi=sol.psi,
        u=sol.u,
        v=sol.v,
        iters=sol.newton_iterations,
        res=sol.residual_norm,
        seconds=sol.seconds,
    )
    os.replace(tmp, path)
    return sol
