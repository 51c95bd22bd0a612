"""Training throughput of recipes and of each component, side by side in one run.

    python benchmarks/speed.py [--steps 5000] [--chunk 500] [--problem helmholtz]
    python benchmarks/speed.py --models all          # every recipe of the problem (best too)
    python benchmarks/speed.py --components          # each cure added to M1 alone
    python benchmarks/speed.py --components --rounds 2 --polish-steps 10   # RESULTS §7

Each row's chunk is compiled first, then its steps are timed (compile excluded, best of
3). Reports steps/s and the cost per step relative to M1 in the same run. A recipe or
component with a second-order stage is timed in that stage (its first step moved to 0)
over ``--polish-steps`` steps, since its cost per step is what differs.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time

import jax

import pinnsight as ps
from pinnsight.experiments.build import build, build_balancer, build_optimizer, build_sampler
from pinnsight.experiments.config import recipes_for
from pinnsight.losses import batch_sizes
from pinnsight.train import init_state, make_step


def step_and_state(config: ps.RunConfig):
    """The pure training step of ``config`` and its initial `TrainState`."""
    problem, net, key = build(config)
    balancer, opt, sampler = build_balancer(config), build_optimizer(config), build_sampler(config, problem)
    sizes = batch_sizes(problem, config.sampling.batch_size)
    step = make_step(problem, net, opt, balancer, sizes, sampler)
    return step, init_state(problem, net, opt, balancer, sampler, key)


def best_rate(step, state, steps: int, chunk: int = 500, repeats: int = 3) -> float:
    """Steps/s of ``step`` scanned in chunks (compile excluded, best of ``repeats``)."""

    @functools.partial(jax.jit, static_argnums=1)
    def run_chunk(s, n):
        return jax.lax.scan(lambda c, _: step(c), s, None, length=n)

    state, m = run_chunk(state, chunk)
    jax.block_until_ready(m)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps // chunk):
            state, m = run_chunk(state, chunk)
        jax.block_until_ready(m)
        best = max(best, (steps // chunk) * chunk / (time.perf_counter() - t0))
    return best


def throughput(config: ps.RunConfig, steps: int, chunk: int, polish_steps: int = 100) -> float:
    """Steps/s of ``config``'s step; a polish stage is timed from its own first step."""
    if config.optim.polish is not None:
        config = config.override(**{"optim.polish_from": 0})
        steps = chunk = polish_steps
    with jax.enable_x64(config.run.x64):
        return best_rate(*step_and_state(config), steps, chunk)


COMPONENTS: dict[str, dict] = {
    "M1": {},
    "+grad_norm": {"weighting.kind": "grad_norm", "weighting.every": 100},
    "+ntk": {"weighting.kind": "ntk", "weighting.every": 100},
    "+relobralo": {"weighting.kind": "relobralo"},
    "+softadapt": {"weighting.kind": "softadapt"},
    "+annealing": {"weighting.kind": "annealing"},
    "+modified_mlp": {"net.kind": "modified_mlp"},
    "+fourier": {"net.kind": "fourier_mlp"},
    "+rwf": {"net.kind": "rwf_mlp"},
    "+pirate": {"net.kind": "pirate"},
    "+soap": {"optim.kind": "soap"},
    "+rad": {"sampling.kind": "rad"},
    "+lbfgs": {"optim.polish": "lbfgs", "optim.polish_from": 0},
    "+gauss_newton": {"optim.polish": "gauss_newton", "optim.polish_from": 0},
}
"""One cure at a time on top of M1 (the paper's net and batch): its cost per step."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="helmholtz")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--models", default="M1,M2,M3,M4", help="recipes, comma-separated, or all")
    ap.add_argument("--components", action="store_true", help="M1 plus one cure at a time")
    ap.add_argument("--polish-steps", type=int, default=100, help="steps timed in a polish stage")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="passes over all rows, alternately forward and backward; best per row",
    )
    ap.add_argument("--set", nargs="*", default=[], dest="assignments")
    args = ap.parse_args()
    base = ps.RunConfig.create(problem=args.problem).with_assignments(args.assignments)
    if args.components:
        configs = {name: base.override(recipe="M1", **values) for name, values in COMPONENTS.items()}
    else:
        models = list(recipes_for(args.problem)) if args.models == "all" else args.models.split(",")
        configs = {m: base.override(recipe=m).with_assignments(args.assignments) for m in models}
    rates = dict.fromkeys(configs, 0.0)
    for r in range(args.rounds):  # a machine that drifts in speed affects every row alike
        for name in list(configs)[:: 1 if r % 2 == 0 else -1]:
            rate = throughput(configs[name], args.steps, args.chunk, args.polish_steps)
            rates[name] = max(rates[name], rate)
    ref = rates.get("M1")
    print(
        f"# {args.problem}, batch {base.sampling.batch_size}/sampler, chunk {args.chunk}, "
        f"{args.steps} timed steps (best of 3 x {args.rounds} rounds); jax {jax.__version__}, "
        f"{jax.devices()[0].platform}, {platform.processor() or platform.machine()}"
    )
    print(f"{'row':14} {'steps/s':>9} {'cost vs M1':>11}")
    for m, r in rates.items():
        rel = f"{ref / r:.3f}x" if ref else "-"
        print(f"{m:14} {r:9.1f} {rel:>11}")
    print(json.dumps({"rates": rates}))


if __name__ == "__main__":
    main()
