r"""Does a curriculum stage lose its warm start because its learning rate restarts high?

    python benchmarks/explore_stage_learning_rate.py RUN_DIR [--re 400] [--stage 1] [--lr 1e-3 1e-4 1.5e-5]
        [--steps 40000] [--set KEY=VALUE ...] [--before RE:STEPS ...]

Loads a finished cavity run (e.g. ``pinnsight train cavity --recipe M4 --seed 0`` at
Re = 100) and trains its network at ``--re`` for 40,000 steps with the run's own settings
(network, optimiser, balancer, 128 points per term, lr $\eta_0\,0.9^{t/1000}$), once per
initial learning rate $\eta_0$: 1e-3 is what a `run.curriculum` stage does (a fresh
schedule); 1.5e-5 is where the previous stage ended. Prints the error against the reference
at ``--re`` every 5,000 steps (4,096-point subsample) and at the end on the whole grid. The
points' key is the key of the curriculum's stage ``--stage`` (0-based; 1: the second), so
the run with $\eta_0$ = 1e-3 is that stage of the curriculum the run began. ``--set`` changes
the stage's other settings as ``pinnsight train --set`` does (e.g. ``sampling.batch_size=512``,
``optim.decay_steps=2000``). ``--before 700:20000`` first trains intermediate stages
(here 20,000 steps at Re = 700, with the keys of stages ``--stage``, ``--stage`` + 1, …, each
warm-started with a fresh optimiser at the same initial rate), then the ``--re`` stage with
the next stage's key: the curriculum with those rungs added to the ladder.
"""

from __future__ import annotations

import argparse
import time

import jax

import pinnsight as ps
from pinnsight.experiments.build import build_balancer, build_optimizer, build_problem, build_sampler
from pinnsight.train import fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--re", type=float, default=400.0)
    ap.add_argument("--stage", type=int, default=1, help="the curriculum stage whose points to use")
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-3, 1e-4, 1.5e-5])
    ap.add_argument("--set", dest="assignments", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--before", nargs="+", default=[], metavar="RE:STEPS", type=_rung)
    args = ap.parse_args()
    config, _, start_net = ps.load_run(args.run_dir)
    _, train_key = jax.random.split(jax.random.PRNGKey(config.run.seed))  # as `build` splits it
    for lr in args.lr:
        net, t0 = start_net, time.perf_counter()
        for index, (re, steps) in enumerate([*args.before, (args.re, args.steps)], start=args.stage):
            key = train_key if index == 0 else jax.random.fold_in(train_key, index)  # `stage_key`
            net = _stage(config, net, re, steps, lr, key, args.assignments, t0)


def _rung(text: str) -> tuple[float, int]:
    """``"700:20000"`` -> (700.0, 20000); argparse turns the ValueError into a one-line error."""
    re, _, steps = text.partition(":")
    if not steps:
        raise ValueError(text)
    return float(re), int(steps)


def _stage(config, net, re: float, steps: int, lr: float, key, assignments, t0: float):
    """Train ``net`` at ``re`` for ``steps`` steps from a fresh optimiser; print the trace."""
    cfg = config.override(**{"problem.params.Re": re, "optim.learning_rate": lr})
    cfg = cfg.with_assignments(assignments)
    # the run's own problem parameters at ``re`` (e.g. best's corner_radius; before 2026-12-08
    # this read get_problem("cavity", Re=re) and so left them out)
    problem = build_problem(cfg)
    result = fit(
        problem,
        net,
        build_balancer(cfg),
        steps=steps,
        key=key,
        optimizer=build_optimizer(cfg),
        sampler=build_sampler(cfg, problem),
        batch_size=cfg.sampling.batch_size,
        chunk_size=cfg.run.chunk_size,
    )
    errs, done = result.history["error"], result.history["step"]
    trace = ", ".join(f"{int(s)}: {e:.3f}" for s, e in zip(done, errs, strict=True) if int(s) % 5000 == 0)
    print(
        f"Re = {re:g}, lr0 = {lr:g} {' '.join(assignments)}: {trace}; "
        f"final (whole grid) {result.summary['final_error']:.4f}; "
        f"{time.perf_counter() - t0:.0f} s since the first stage began",
        flush=True,
    )
    return result.net


if __name__ == "__main__":
    main()
