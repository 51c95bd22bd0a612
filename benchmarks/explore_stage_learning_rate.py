r"""Does a curriculum stage lose its warm start because its learning rate restarts high?

    python benchmarks/explore_stage_learning_rate.py RUN_DIR_RE100 [--re 400] [--lr 1e-3 1e-4 1.5e-5]

Loads a finished cavity run at Re = 100 (``pinnsight train cavity --recipe best --seed 0``)
and trains its network at ``--re`` for 40,000 steps with M4's settings (modified MLP,
annealing, 128 points per term, lr $\eta_0\,0.9^{t/1000}$), once per initial learning rate
$\eta_0$: 1e-3 is what a `run.curriculum` stage does (a fresh schedule); 1.5e-5 is where the
Re = 100 stage ended. Prints the error against the reference at ``--re`` every 5,000 steps
(4,096-point subsample) and at the end on the whole grid. The points' key is a curriculum's
second stage's, so the run with $\eta_0$ = 1e-3 is the Re = 400 stage of ``--recipe best``.
"""

from __future__ import annotations

import argparse

import jax

import pinnsight as ps
from pinnsight.experiments.build import build_balancer, build_optimizer, build_sampler
from pinnsight.train import fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--re", type=float, default=400.0)
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-3, 1e-4, 1.5e-5])
    args = ap.parse_args()
    config, _, net = ps.load_run(args.run_dir)
    problem = ps.get_problem("cavity", Re=args.re)
    _, train_key = jax.random.split(jax.random.PRNGKey(config.run.seed))  # as `build` splits it
    key = jax.random.fold_in(train_key, 1)  # the second stage's key (`stage_key`)
    for lr in args.lr:
        cfg = config.override(**{"problem.params.Re": args.re, "optim.learning_rate": lr})
        result = fit(
            problem,
            net,
            build_balancer(cfg),
            steps=args.steps,
            key=key,
            optimizer=build_optimizer(cfg),
            sampler=build_sampler(cfg, problem),
            batch_size=cfg.sampling.batch_size,
            chunk_size=cfg.run.chunk_size,
        )
        errs = result.history["error"]
        steps = result.history["step"]
        trace = ", ".join(
            f"{int(s)}: {e:.3f}" for s, e in zip(steps, errs, strict=True) if int(s) % 5000 == 0
        )
        print(
            f"Re = {args.re:g}, lr0 = {lr:g}: {trace}; "
            f"final (whole grid) {result.summary['final_error']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
