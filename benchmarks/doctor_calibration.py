"""The doctor's calibration over seeds: every case of docs/RESULTS.md §5, each seed its own run.

Each case is one ``pinnsight doctor ... --cure --json`` command (Poisson C = 1, 2, 4;
Helmholtz a2 = 1 … 4 with M1; Helmholtz a2 = 4 with M4); every (case, seed) runs in its own
process pinned to its own cores (from ``--first-core`` on), ``--jobs`` at a time, and its JSON goes to
``OUT/<case>-s<seed>.json`` (a case already there is not rerun, so a killed calibration
resumes). The table gives, per case, medians (min–max) over the seeds of the probe's error,
the imbalance, σ_max·η/2 and the NTK trace ratio τ, the severities per seed, the cures
proposed, and the error after the cure with the number of seeds where it is lower.

    python benchmarks/doctor_calibration.py --seeds 0,1,2 --jobs 2 --cores 1 --out runs/doctor-cal
    python benchmarks/doctor_calibration.py --out runs/doctor-cal --table   # table only

Accuracy, not speed: the wall times are those of the machine it runs on, with ``--jobs``
runs beside each other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES: dict[str, list[str]] = {
    "poisson-C1": ["poisson1d", "--set", "C=1"],
    "poisson-C2": ["poisson1d", "--set", "C=2"],
    "poisson-C4": ["poisson1d", "--set", "C=4"],
    "helmholtz-a2_1-M1": ["helmholtz", "--set", "a2=1"],
    "helmholtz-a2_2-M1": ["helmholtz", "--set", "a2=2"],
    "helmholtz-a2_3-M1": ["helmholtz", "--set", "a2=3"],
    "helmholtz-a2_4-M1": ["helmholtz", "--set", "a2=4"],
    "helmholtz-a2_4-M4": ["helmholtz", "--recipe", "M4", "--set", "a2=4"],
}
PATHOLOGIES = ("gradient_imbalance", "stiffness", "spectral_bias", "divergence")


def command(case: str, seed: int, steps: int, out: Path) -> list[str]:
    """The doctor command of one (case, seed)."""
    return [
        sys.executable, "-m", "pinnsight.cli", "doctor", *CASES[case],
        "--steps", str(steps), "--seed", str(seed), "--cure", "--json", "--quiet",
        "--out", str(out / f"{case}-s{seed}"),
    ]  # fmt: skip


def finished(path: Path) -> bool:
    """Whether ``path`` holds a complete doctor JSON (a half-written one is rerun)."""
    try:
        return "findings" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def run_all(todo: list[tuple[str, int]], args: argparse.Namespace, out: Path) -> None:
    """Run the (case, seed) pairs ``args.jobs`` at a time, job ``i`` on its own cores."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "OMP_NUM_THREADS": str(args.cores)}
    running: dict[int, tuple[subprocess.Popen, str, int, float]] = {}
    t0 = time.perf_counter()
    while todo or running:
        for slot in range(args.jobs):
            if slot not in running and todo:
                case, seed = todo.pop(0)
                first = args.first_core + slot * args.cores
                cpus = f"{first}-{first + args.cores - 1}"
                cmd = ["taskset", "-c", cpus, *command(case, seed, args.steps, out)]
                proc = subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
                )
                running[slot] = (proc, case, seed, time.perf_counter())
        for slot, (proc, case, seed, start) in list(running.items()):
            if proc.poll() is None:
                continue
            text = proc.stdout.read()
            dest = out / f"{case}-s{seed}.json"
            if proc.returncode == 0:
                row = json.loads(text)
                row["wall_s"] = time.perf_counter() - start
                dest.write_text(json.dumps(row))
            print(f"[{time.perf_counter() - t0:6.0f} s] {case} seed {seed}: rc {proc.returncode}", flush=True)
            del running[slot]
        time.sleep(0.5)


def spread(values: list[float], fmt: str = "{:.3g}") -> str:
    """``median (min–max)`` of ``values``."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def case_row(case: str, rows: list[dict]) -> str:
    """One markdown row of the table: the medians over seeds and the cures' outcome."""
    sev = {f["pathology"]: [] for f in rows[0]["findings"]}
    for r in rows:
        for f in r["findings"]:
            sev[f["pathology"]].append(f["severity"][0])  # n(one) / m(ild) / s(evere)
    err = [r["summary"]["final_error"] for r in rows]
    imb = [max(g["median"] for g in r["imbalance"]["groups"].values()) for r in rows]
    stiff = [r["stiffness"]["ratio"] for r in rows]
    tau = [max(r["ntk"]["trace_ratio"].values()) for r in rows]
    cures = sorted(
        {" ".join(f"{k}={v}" for k, v in sorted(r["cure"].items())) or "none needed" for r in rows}
    )
    cured = [r["cure_run"] for r in rows if "error_after" in r.get("cure_run", {})]
    after = [c["error_after"] for c in cured]
    lower = sum(c["error_after"] < c["error_before"] for c in cured)
    sevs = " / ".join("".join(sev[p]) for p in PATHOLOGIES if p in sev)
    gain = spread([c["error_before"] / c["error_after"] for c in cured], "{:.2g}")
    return (
        f"| {case} | {len(rows)} | {spread(err)} | {spread(imb)} | {spread(stiff, '{:.2g}')} | {spread(tau)} "
        f"| {sevs} | {'; '.join(f'`{c}`' for c in cures)} | {spread(after)} | {gain} | {lower}/{len(cured)} |"
    )


def table(out: Path, seeds: list[int]) -> str:
    """The markdown table over every case with at least one finished seed."""
    head = (
        "| case | seeds | rel. L2 (probe) | imbalance | σ_max·η/2 | τ | severities per seed "
        "(imbalance / stiffness / spectral / divergence) | proposed cure | rel. L2 after the cure "
        "| before/after | cure lower |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for case in CASES:
        rows = [json.loads(p.read_text()) for s in seeds if finished(p := out / f"{case}-s{s}.json")]
        if rows:
            lines.append(case_row(case, rows))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--cases", help=f"comma-separated cases (default all: {', '.join(CASES)})")
    ap.add_argument("--steps", type=int, default=5000, help="probe steps (default 5000, the doctor's)")
    ap.add_argument("--jobs", type=int, default=1, help="doctor runs at a time (default 1)")
    ap.add_argument("--cores", type=int, default=2, help="cores per run (default 2)")
    ap.add_argument("--first-core", type=int, default=0, help="first core of job 0 (default 0)")
    ap.add_argument(
        "--out", default="runs/doctor-cal", help="folder of the JSON results (default runs/doctor-cal)"
    )
    ap.add_argument("--table", action="store_true", help="print the table of what is there, run nothing")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    cases = args.cases.split(",") if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"error: unknown case {unknown[0]!r}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.table:
        todo = [(c, s) for c in cases for s in seeds if not finished(out / f"{c}-s{s}.json")]
        run_all(todo, args, out)
    print(table(out, seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
