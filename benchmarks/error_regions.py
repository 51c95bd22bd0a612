"""Where a trained run's error sits: shares of the squared error by region of its reference.

    python benchmarks/error_regions.py RUN_DIR [--band X0 HALF_WIDTH AXIS] [--near X Y R ...]

Loads the run (`pinnsight.load_run`), evaluates the network on the problem's whole reference
and prints the relative L2 error, then the share of $\\sum |u_\\theta - u|^2$ in each quarter
of every input axis and, with ``--band``, in the band $|x_{AXIS} - X0| <$ HALF_WIDTH against
the share of reference points it holds (Burgers' shock: ``--band 0 0.05 1``). With
``--near`` (repeatable; 2D references) it prints the share within distance R of the point
(X, Y) and the relative L2 over the other points (the cavity's lid ends: ``--near 0 1 0.001
--near 1 1 0.001`` picks the two corner nodes, where the exact velocity has no value). With
``--speed-below Y`` (2D vector fields) it prints the PINN's mean speed $|u_\\theta|$ over the
points with second coordinate below Y, divided by the reference's (the cavity's lower half:
``--speed-below 0.5``; a ratio under 1 is a vortex that turns too slowly there).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import pinnsight as ps
from pinnsight.report.plots import predict


def fields(run_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Reference points, reference values, the network's values there, axis names."""
    _, problem, net = ps.load_run(run_dir)
    vals, pred = predict(problem, net)  # in the network's precision (float64 for x64 runs)
    vals, pred = np.asarray(vals, dtype=float), np.asarray(pred, dtype=float)
    return np.asarray(problem.reference_data.points), vals, pred, problem.domain.names


def speed_ratio_below(pts: np.ndarray, vals: np.ndarray, pred: np.ndarray, y: float) -> float:
    """Mean $|u_\\theta|$ over the points with second coordinate below ``y``, over the reference's."""
    below = pts[:, 1] < y
    return float(np.linalg.norm(pred[below], axis=-1).mean() / np.linalg.norm(vals[below], axis=-1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--band", nargs=3, type=float, metavar=("X0", "HALF_WIDTH", "AXIS"))
    ap.add_argument("--near", nargs=3, type=float, action="append", metavar=("X", "Y", "R"))
    ap.add_argument("--speed-below", type=float, metavar="Y")
    args = ap.parse_args()
    pts, vals, pred, names = fields(args.run_dir)
    err2, ref2 = np.sum((pred - vals) ** 2, -1), np.sum(vals**2, -1)
    total = err2.sum()
    out = {"rel_l2": float(np.sqrt(total / ref2.sum())), "quarters": {}}
    print(f"relative L2 on the whole reference ({len(err2)} points): {out['rel_l2']:.3e}")
    for axis, name in enumerate(names):
        lo, hi = pts[:, axis].min(), pts[:, axis].max()
        edges = np.linspace(lo, hi, 5)
        shares = [float(err2[(pts[:, axis] >= a) & ((pts[:, axis] < b) | (b == hi))].sum() / total)
                  for a, b in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip
        out["quarters"][name] = shares
        print(f"  {name} quarters {', '.join(f'{100 * s:.1f}%' for s in shares)}")
    if args.band:
        x0, half, axis = args.band
        inside = np.abs(pts[:, int(axis)] - x0) < half
        out["band"] = {"error_share": float(err2[inside].sum() / total), "point_share": float(inside.mean())}
        print(
            f"  |{names[int(axis)]} - {x0:g}| < {half:g}: {100 * out['band']['error_share']:.1f}% of the "
            f"squared error on {100 * out['band']['point_share']:.1f}% of the points"
        )
    if args.near:
        near = np.zeros(len(err2), bool)
        for x, y, r in args.near:
            near |= np.hypot(pts[:, 0] - x, pts[:, 1] - y) < r
        out["near"] = {
            "points": int(near.sum()),
            "error_share": float(err2[near].sum() / total),
            "rel_l2_without": float(np.sqrt(err2[~near].sum() / ref2.sum())),
        }
        print(
            f"  near {args.near}: {int(near.sum())} points, {100 * out['near']['error_share']:.1f}% of the "
            f"squared error; relative L2 without them {out['near']['rel_l2_without']:.3e}"
        )
    if args.speed_below is not None:
        out["speed_ratio_below"] = speed_ratio_below(pts, vals, pred, args.speed_below)
        print(
            f"  mean speed below y = {args.speed_below:g}, PINN / reference: {out['speed_ratio_below']:.2f}"
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
