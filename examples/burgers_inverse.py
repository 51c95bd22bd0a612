"""Inverse Burgers (Raissi, Perdikaris & Karniadakis 2019, §4.1.1): recover lambda1 and nu of

    u_t + lambda1 u u_x = nu u_xx,    truth: lambda1 = 1, nu = 0.01/pi,

from 2,000 observations of the exact (Cole-Hopf) solution at random (t, x), with no initial
or boundary data, clean or with 1 % Gaussian noise. Raissi et al.'s network (8 hidden tanh
layers of 20) and initial guesses (lambda1 = 0, nu = exp(-6)); the problem's `best` recipe:
2,000 Adam steps on 2,000 fresh uniform residual points per step, then 20,000 L-BFGS steps
(memory 50) on 2,000 fixed ones (`optim.kind=adam_lbfgs`), float64 (docs/RESULTS.md §8 says
why: in float32 L-BFGS stalls with nu up to 0.7 % off). About 30 min on one CPU core.

    python examples/burgers_inverse.py                 # clean data, seed 0
    python examples/burgers_inverse.py --noise 0.01 --seed 1 --out runs/inverse-noisy-s1

The same run from the command line:

    pinnsight train burgers_inverse --recipe best --set problem.noise=0.01 problem.seed_data=1 --seed 1

(with ``--out DIR`` it writes the run folder and its report, with the coefficients' trajectories).
"""

from __future__ import annotations

import argparse

import numpy as np

import pinnsight as ps
from pinnsight.problems.burgers_inverse import LAMBDA1_TRUE, NU_TRUE


def config(noise=0.0, seed=0, adam=2000, lbfgs=20000, residual_points=2000, x64=True, **extra):
    """The `best` run of RESULTS.md §8 (seed: network, points and data all draw from it)."""
    return ps.RunConfig.create(
        problem="burgers_inverse",
        recipe="best",
        **{
            "problem.noise": noise,
            "problem.seed_data": seed,
            "optim.switch_step": adam,
            "sampling.fixed_from": adam,
            "sampling.batch_size": {"residual": residual_points},
            "run.steps": adam + lbfgs,
            "run.seed": seed,
            "run.x64": x64,
            **extra,
        },
    )


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", type=float, default=0.0, help="relative noise of the data (0.01: 1%%)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the network, the points and the data")
    ap.add_argument("--adam", type=int, default=2000, help="Adam steps")
    ap.add_argument("--lbfgs", type=int, default=20000, help="L-BFGS steps after Adam")
    ap.add_argument("--residual-points", type=int, default=2000, help="residual points per step")
    ap.add_argument("--float32", action="store_true", help="train in float32 (RESULTS §8: nu stalls)")
    ap.add_argument("--out", default=None, help="run folder (with its report)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="other config values")
    args = ap.parse_args(argv)
    cfg = config(args.noise, args.seed, args.adam, args.lbfgs, args.residual_points, not args.float32)
    cfg = cfg.with_assignments(args.set)
    result = ps.run(cfg, out_dir=args.out)
    coefs = result.summary["final_coefficients"]
    out = {
        "lambda1": coefs["lambda1"],
        "nu": coefs["nu"],
        "lambda1_rel_err": abs(coefs["lambda1"] - LAMBDA1_TRUE) / LAMBDA1_TRUE,
        "nu_rel_err": abs(coefs["nu"] - NU_TRUE) / NU_TRUE,
        "u_rel_l2": float(result.summary["final_error"]),
        "wall_s": result.summary["wall_time_s"],
    }
    print(
        f"lambda1 = {out['lambda1']:.6f} (error {100 * out['lambda1_rel_err']:.3f} %), "
        f"nu = {out['nu']:.6e} (error {100 * out['nu_rel_err']:.3f} %), "
        f"u rel. L2 = {out['u_rel_l2']:.2e}, wall {out['wall_s']:.0f} s"
    )
    if args.out:
        from pinnsight.report.run_report import render_run

        print("report:", render_run(args.out))
    return out


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
