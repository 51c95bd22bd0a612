"""Ablation table from `benchmarks/search.py` output: one Markdown row per candidate.

    python benchmarks/summarize_search.py runs.jsonl [more.jsonl ...] [--prefix KG-]

Per candidate over its seeds: the median relative L2 error with min–max (a failed run is
counted and named), the median wall time, and the diagnostics over training as medians
over seeds: the gradient imbalance (max over groups of the paper's
max|∇L_r| / mean|∇L_g|) at the first and last chunk, and the Hessian's σ_max at the first
and last record (``diagnostics.stiffness_every``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def load(paths: list[str]) -> dict[str, list[dict]]:
    """Rows by candidate name (the last row of a (name, seed) pair wins)."""
    rows: dict[tuple[str, int], dict] = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows[(r["name"], int(r["seed"]))] = r
    out: dict[str, list[dict]] = {}
    for (name, _), r in sorted(rows.items()):
        out.setdefault(name, []).append(r)
    return out


def _fmt(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{statistics.median(values):.2e}"


def diagnostics(runs: list[dict]) -> tuple[str, str]:
    """(imbalance first → last, σ_max first → last), medians over seeds."""
    imb_first, imb_last, sig_first, sig_last = [], [], [], []
    for r in runs:
        imb = r.get("imbalance") or {}
        if imb:
            series = [max(v) for v in zip(*imb.values(), strict=True)]
            imb_first.append(series[0])
            imb_last.append(series[-1])
        stiff = r.get("stiffness") or []
        if stiff:
            sig_first.append(float(stiff[0]["sigma_max"]))
            sig_last.append(float(stiff[-1]["sigma_max"]))
    return f"{_fmt(imb_first)} → {_fmt(imb_last)}", f"{_fmt(sig_first)} → {_fmt(sig_last)}"


def row(name: str, runs: list[dict]) -> str:
    errs = [r["final_error"] for r in runs if r.get("final_error") is not None]
    failed = [r for r in runs if r.get("final_error") is None]
    seeds = ",".join(str(r["seed"]) for r in runs)
    if errs:
        err = f"{statistics.median(errs):.2e} ({min(errs):.1e}–{max(errs):.1e})"
    else:
        err = "–"
    if failed:
        err += f"; {len(failed)} failed ({failed[0].get('failed', '')[:60]})"
    wall = statistics.median(r["wall_s"] for r in runs)
    imb, sig = diagnostics(runs)
    return f"| {name} | {err} | {seeds} | {wall:.0f} | {imb} | {sig} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--prefix", default="", help="only candidates whose name starts with this")
    args = ap.parse_args(argv)
    print(
        "| candidate | rel. L2: median (min–max) | seeds | wall s (median) "
        "| imbalance first → last | σ_max first → last |"
    )
    print("|---|---|---|---:|---|---|")
    for name, runs in load(args.files).items():
        if name.startswith(args.prefix):
            print(row(name, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
