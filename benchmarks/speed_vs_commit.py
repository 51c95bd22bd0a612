"""Steps/s of this checkout against another commit, measured side by side in one run.

    python benchmarks/speed_vs_commit.py REV [--rounds 2] [--steps 5000] [--models M1,M2,M3,M4]

Checks out REV into a temporary git worktree and runs each checkout's own
``benchmarks/speed.py`` in turn (REV, this, REV, this, ... — interleaved, so a machine
that speeds up or slows down during the run affects both alike), each in a fresh process
with its own ``src`` on ``PYTHONPATH``. Prints per model the best steps/s of each and
the ratio this/REV (> 1: this checkout is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rates(checkout: Path, args) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"))
    cmd = [
        sys.executable,
        str(checkout / "benchmarks" / "speed.py"),
        "--steps",
        str(args.steps),
        "--models",
        args.models,
        "--problem",
        args.problem,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["rates"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--models", default="M1,M2,M3,M4")
    ap.add_argument("--problem", default="helmholtz")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.rev],
            check=True,
            capture_output=True,
        )
        try:
            best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
            for _ in range(args.rounds):
                for label, path in (("old", old), ("new", ROOT)):
                    for m, r in rates(path, args).items():
                        best[label][m] = max(best[label].get(m, 0.0), r)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    print(f"# {args.problem}: best of {args.rounds} interleaved rounds, {args.steps} timed steps each")
    print(f"{'model':6} {args.rev[:10]:>12} {'this':>10} {'this/old':>9}")
    for m in best["new"]:
        o, n = best["old"][m], best["new"][m]
        print(f"{m:6} {o:12.0f} {n:10.0f} {n / o:9.3f}")
    print(json.dumps(best))


if __name__ == "__main__":
    main()
