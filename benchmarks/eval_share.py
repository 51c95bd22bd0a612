"""The share of wall time spent evaluating and logging, per built-in problem (heat3d included).

    python benchmarks/eval_share.py                        # every problem, 20,000 steps of M1
    python benchmarks/eval_share.py --problems heat3d --eval-points 0   # the old cost
    python benchmarks/eval_share.py --steps 200 --problems poisson1d,helmholtz   # a quick check

Each problem trains through `pinnsight.run` into a run folder of its own (as ``pinnsight
train`` does: ``metrics.csv`` and ``state.eqx`` after chunks, ``summary.json`` at the end),
one problem per subprocess, and the table gives ``summary.json``'s ``wall_time_s``,
``train_time_s`` (the compiled steps), ``eval_log_time_s`` (each chunk's error on
``run.eval_points`` reference points and gradient statistics, the callbacks — files,
progress —, and the final error on the whole reference, timed host-side after the results
are on the host) and ``eval_log_share`` = eval_log_time_s / wall_time_s. The rest of the
wall time is the sampler refresh and the loop itself. Every program (the step, the
evaluations, the statistics) is compiled before the wall clock starts; ``compile s`` is that
time (``summary.json``'s ``compile_time_s``), a fixed cost per run, shown beside.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any


def measure(problem: str, recipe: str, steps: int, eval_points: int, out: str) -> dict[str, Any]:
    """Train ``problem`` with ``recipe`` for ``steps`` steps into the folder ``out``; its summary."""
    import pinnsight as ps

    cfg = ps.RunConfig.create(problem=problem, recipe=recipe, steps=steps, **{"run.eval_points": eval_points})
    return ps.run(cfg, out, progress=False, announce=False).summary


def spawn(problem: str, args: argparse.Namespace, folder: str) -> dict[str, Any]:
    """`measure` in a fresh subprocess (its JSON summary, or why it failed)."""
    argv = [sys.executable, os.path.abspath(__file__), "--worker", problem, "--recipe", args.recipe]
    argv += ["--steps", str(args.steps), "--eval-points", str(args.eval_points)]
    argv += ["--out", os.path.join(folder, problem)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"failed": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    from pinnsight.problems import PROBLEMS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default=",".join(sorted(PROBLEMS)), help="comma-separated")
    ap.add_argument("--recipe", default="M1")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--eval-points", type=int, default=4096, help="run.eval_points (0: the whole reference)")
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.recipe, args.steps, args.eval_points, args.out)))
        return 0
    print(f"# {args.recipe}, {args.steps} steps, run.eval_points = {args.eval_points}")
    print(
        f"{'problem':16} {'compile s':>9} {'wall s':>8} {'train s':>8} {'eval+log s':>10} {'share':>7} "
        f"{'final error':>12}"
    )
    rows = {}
    with tempfile.TemporaryDirectory(prefix="pinnsight-eval-share-") as folder:
        for problem in args.problems.split(","):
            s = rows[problem] = spawn(problem, args, folder)
            if "failed" in s:
                print(f"{problem:16} failed: {s['failed']}")
                continue
            print(
                f"{problem:16} {s['compile_time_s']:9.1f} {s['wall_time_s']:8.1f} {s['train_time_s']:8.1f} "
                f"{s['eval_log_time_s']:10.2f} "
                f"{100 * s['eval_log_share']:6.1f}% {s['final_error']:12.3e}"
            )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
