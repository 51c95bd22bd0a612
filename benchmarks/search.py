"""Run many candidate recipes × seeds side by side, each pinned to its own cores.

The search behind each problem's ``best`` recipe (docs/RESULTS.md): a JSON file maps a
candidate's name to its config-tree values (``{"problem": "helmholtz", "recipe": "M3",
"optim.kind": "soap", ...}``); every candidate runs once per seed in its own process,
``--jobs`` at a time, job ``i`` pinned with ``taskset`` to cores ``[i*c, (i+1)*c)`` so
that a 16-core machine runs eight trainings as eight 2-core machines. One JSON line per
finished run goes to ``--out`` (final relative L2 error, the error history, wall time,
steps/s, final weights, learned coefficients, the gradient imbalance per chunk and the
Hessian's σ_max rows when ``diagnostics.stiffness_every`` asks for them); a value ``"$seed"``
becomes the run's seed (e.g. ``problem.seed_data``); runs already in ``--out`` are skipped,
so a killed search resumes.

    python benchmarks/search.py candidates.json --seeds 0,1,2 --jobs 7 --cores 2 --out runs.jsonl

This measures accuracy. Wall times are those of the machine it runs on (state it); a
``best`` recipe's wall time on the 2-core reference machine is measured there alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORKER = r"""
import csv, json, sys, tempfile, time
from pathlib import Path
import pinnsight as ps
name, seed, values = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
values = {k: (seed if v == "$seed" else v) for k, v in values.items()}  # e.g. the data's seed
cfg = ps.RunConfig.create(**{**values, "run.seed": seed})
t = time.perf_counter()
try:
    with tempfile.TemporaryDirectory() as tmp:
        r = ps.run(cfg, Path(tmp) / "run", progress=False)
        stiff = Path(tmp) / "run" / "stiffness.csv"
        rows = list(csv.DictReader(stiff.open())) if stiff.exists() else []
    s = r.summary
    imb = {k: [float(v) for v in r.history[k]] for k in r.history if k.startswith("imbalance_")}
    row = {"final_error": s["final_error"], "steps_per_s": s["steps_per_s"],
           "errors": [float(e) for e in r.history["error"]], "steps": [int(v) for v in r.history["step"]],
           "imbalance": imb, "stiffness": rows,
           "final_lambda": s.get("final_lambda"), "status": s.get("status"),
           "final_coefficients": s.get("final_coefficients")}
except Exception as err:  # a diverged or refused candidate is a result too
    row = {"final_error": None, "failed": f"{type(err).__name__}: {err}"}
row.update(name=name, seed=seed, values=values, wall_s=time.perf_counter() - t)
print("RESULT " + json.dumps(row), flush=True)
"""


def done_runs(out: Path) -> set[tuple[str, int]]:
    """(name, seed) pairs already recorded in ``out`` (a killed search resumes)."""
    if not out.exists():
        return set()
    seen = set()
    for line in out.read_text().splitlines():
        try:
            row = json.loads(line)
            seen.add((row["name"], int(row["seed"])))
        except (ValueError, KeyError):
            continue
    return seen


def launch(slot: int, cores: int, name: str, seed: int, values: dict) -> subprocess.Popen:
    """One training in its own process on cores ``[slot*cores, (slot+1)*cores)``."""
    first = slot * cores
    cpu_list = f"{first}-{first + cores - 1}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}
    cmd = ["taskset", "-c", cpu_list, sys.executable, "-c", WORKER, name, str(seed), json.dumps(values)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", help="JSON file: {name: {config-tree key: value}}")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--jobs", type=int, default=1, help="trainings at a time (default 1)")
    ap.add_argument("--cores", type=int, default=2, help="cores per training (default 2)")
    ap.add_argument("--out", default="search.jsonl", help="JSON lines, one per run (appended)")
    ap.add_argument("--only", help="comma-separated candidate names to run (default all)")
    args = ap.parse_args(argv)
    candidates = json.loads(Path(args.candidates).read_text())
    if args.only:
        candidates = {k: v for k, v in candidates.items() if k in args.only.split(",")}
    out = Path(args.out)
    skip = done_runs(out)
    todo = [
        (n, int(s), v)
        for n, v in candidates.items()
        for s in args.seeds.split(",")
        if (n, int(s)) not in skip
    ]
    running: dict[int, tuple[subprocess.Popen, str, int]] = {}
    t0 = time.perf_counter()
    while todo or running:
        for slot in range(args.jobs):
            if slot not in running and todo:
                name, seed, values = todo.pop(0)
                running[slot] = (launch(slot, args.cores, name, seed, values), name, seed)
        for slot, (proc, name, seed) in list(running.items()):
            if proc.poll() is None:
                continue
            text = proc.stdout.read()
            rows = [ln[len("RESULT ") :] for ln in text.splitlines() if ln.startswith("RESULT ")]
            row = rows[-1] if rows else json.dumps({"name": name, "seed": seed, "failed": text[-500:]})
            with out.open("a") as f:
                f.write(row + "\n")
            err = json.loads(row).get("final_error")
            print(f"[{time.perf_counter() - t0:6.0f} s] {name} seed {seed}: {err}", flush=True)
            del running[slot]
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
