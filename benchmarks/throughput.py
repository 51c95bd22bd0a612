r"""Throughput against batch size: steps/s and points/s, on 1 and 2 devices, and seeds vmapped.

    python benchmarks/throughput.py [--batches 128,512,2048,8192,32768,65536] [--steps 2000]
        [--models M1,M4] [--devices 1,2] [--vmap-seeds 4] [--max-seconds 240] [--out FILE.json]

Helmholtz (PAPER §5, eq. 45), the paper's 2-50-50-50-1 network, float32, ``B`` points per
sampler per step (the residual and each of the four edges, so $5B$ points a step). Per row:

- ``steps_per_s``: optimiser steps per second of the compiled step loop (compilation and
  one warm-up step excluded; the count is traced, so every length runs one executable);
- ``points_per_s`` $= 5B \times$ ``steps_per_s`` (for vmapped seeds, times the seed count);
- ``compile_s``: lowering + compiling + the warm-up step.

Modes: ``1 dev``; ``2 dev``, data-parallel over two devices (`pinnsight.data_parallel`:
points sharded, parameters replicated, gradients all-reduced by XLA) — real devices where
JAX sees two (GPUs), else on CPU in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (the two "devices" then share the
CPU's cores: a check of the plumbing, not a speed-up); and, on a GPU only by default,
``vmap S``: S seeds' steps batched with `jax.vmap` in one program (as
``benchmarks/vmap_seeds.py``).

A wall-time cap ``--max-seconds`` covers everything (the subprocess too): batches run
smallest first, every mode of one batch before the next, each measurement is timed for at
most an even share of what is left, and a batch whose predicted cost no longer fits is
skipped with every larger one (listed as ``skipped``). The Markdown table goes to stdout,
everything else (device, versions, settings, rows) to ``--out`` as JSON. On a GPU machine:

    python benchmarks/throughput.py --max-seconds 240 --out throughput_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import pinnsight as ps
from pinnsight.data_parallel import data_mesh, replicate
from pinnsight.experiments.build import build, build_balancer, build_optimizer, build_sampler
from pinnsight.losses import batch_sizes
from pinnsight.train import init_state, make_step

BATCHES = (128, 512, 2048, 8192, 32768, 65536)


@dataclass
class Row:
    """One measurement: a model, a mode (``1 dev``, ``2 dev``, ``vmap S``) and a batch size."""

    model: str
    mode: str
    batch: int
    points_per_step: int
    steps_timed: int = 0
    steps_per_s: float | None = None
    points_per_s: float | None = None
    compile_s: float | None = None
    status: str = "ok"


def setup(model: str, batch: int, devices: int, seeds: int):
    """The step function (vmapped over seeds if ``seeds`` > 1), its initial state (replicated
    on the mesh for ``devices`` > 1, stacked for seeds) and the points per step of one seed."""
    config = ps.RunConfig.create(problem="helmholtz", recipe=model, batch_size=batch)
    states = []
    for s in range(max(seeds, 1)):
        problem, net, key = build(config.override(seed=s))
        bal, opt, sampler = build_balancer(config), build_optimizer(config), build_sampler(config, problem)
        sizes = batch_sizes(problem, batch)
        states.append(init_state(problem, net, opt, bal, sampler, key))
    step = make_step(problem, net, opt, bal, sizes, sampler, devices=devices if devices > 1 else None)
    points = sum(sizes.values())
    if seeds > 1:
        stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)
        return jax.vmap(step), stacked, points
    state = states[0]
    if devices > 1:
        state = replicate(state, data_mesh(devices))
    return step, state, points


def time_steps(step, state, max_steps: int, seconds: float) -> tuple[int, float, float]:
    """``(steps timed, steps/s, compile s)``: compile a loop of a traced number of steps, warm
    up with one, time a probe of up to 10 steps, then up to ``max_steps`` filling ``seconds``."""

    @jax.jit
    def run(s, n):
        return jax.lax.fori_loop(0, n, lambda _, c: step(c)[0], s)

    t0 = time.perf_counter()
    state = jax.block_until_ready(run(state, np.int32(1)))
    compile_s = time.perf_counter() - t0
    n = min(max_steps, 10)
    t0 = time.perf_counter()
    state = jax.block_until_ready(run(state, np.int32(n)))
    probe = time.perf_counter() - t0
    rate = n / max(probe, 1e-9)
    more = int(min(max_steps - n, rate * max(seconds - probe, 0.0)))
    if more >= n:  # the longer run's rate, with fewer timer and dispatch effects
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, np.int32(more)))
        n, rate = more, more / max(time.perf_counter() - t0, 1e-9)
    return n, rate, compile_s


def measure(model: str, mode: str, batch: int, steps: int, seconds: float) -> Row:
    """One row; an error (out of memory, say) becomes its status instead of ending the run."""
    devices = int(mode.split()[0]) if mode.endswith("dev") else 1
    seeds = int(mode.split()[1]) if mode.startswith("vmap") else 1
    try:
        step, state, points = setup(model, batch, devices, seeds)
        n, rate, compile_s = time_steps(step, state, steps, seconds)
    except Exception as err:  # noqa: BLE001 - recorded in the table
        return Row(model, mode, batch, 0, status=f"failed: {type(err).__name__}: {str(err)[:120]}")
    per = points * seeds
    return Row(model, mode, batch, per, n, rate, rate * per, compile_s)


def run_local(args, modes: list[str], deadline: float) -> list[Row]:
    """Every (batch, model, mode) measured here, smallest batch first (each batch in every
    mode before the next), within ``deadline``: a measurement whose predicted wall time — the
    previous batch's in the same model and mode, times the batch ratio up to 2 — no longer fits
    is skipped with its larger batches. The smallest batch always runs."""
    rows: list[Row] = []
    cost: dict[tuple[str, str], float] = {}  # last measurement's wall time; inf once skipped
    batches = sorted(args.batches)
    pairs = [(m, mode) for m in args.models for mode in modes]
    for i, batch in enumerate(batches):
        growth = min(batch / batches[i - 1], 2.0) if i else 1.0
        for j, pair in enumerate(pairs):
            now = time.perf_counter()
            if i and now + cost[pair] * growth > deadline:
                cost[pair] = float("inf")
                rows.append(Row(*pair, batch, 0, status="skipped (over --max-seconds)"))
                continue
            remaining = len(pairs) * (len(batches) - i) - j
            share = max(0.5, (deadline - now) / (2 * remaining))  # half timing, half compiling
            rows.append(measure(*pair, batch, args.steps, min(share, args.seconds)))
            cost[pair] = time.perf_counter() - now
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


def run_forced_cpus(args, deadline: float) -> list[Row]:
    """The ``2 dev`` rows on CPU: this script again, in a process that sees two CPU devices."""
    left = deadline - time.perf_counter()
    if left < 5:
        return [
            Row(m, "2 dev", b, 0, status="skipped (over --max-seconds)")
            for b in args.batches
            for m in args.models
        ]
    cmd = [
        sys.executable,
        __file__,
        "--modes",
        "2 dev",
        "--json-rows",
        "--max-seconds",
        f"{left:.0f}",
        "--batches",
        ",".join(map(str, args.batches)),
        "--models",
        ",".join(args.models),
        "--steps",
        str(args.steps),
        "--seconds",
        str(args.seconds),
    ]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    try:  # its progress lines go straight to stderr; the rows come back on stdout
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, timeout=2 * left + 120)
    except subprocess.TimeoutExpired:
        proc = subprocess.CompletedProcess(cmd, "timed out")
    if proc.returncode != 0:
        why = f"failed: subprocess exit {proc.returncode}"
        return [Row(m, "2 dev", b, 0, status=why) for b in args.batches for m in args.models]
    return [Row(**r) for r in json.loads(proc.stdout.strip().splitlines()[-1])]


def plan(args) -> tuple[list[str], bool]:
    """The modes to measure here, and whether the ``2 dev`` rows need the forced-CPU subprocess."""
    if args.modes:
        return args.modes, False
    gpu = jax.devices()[0].platform != "cpu"
    modes = ["1 dev"] if 1 in args.devices else []
    forced = False
    if 2 in args.devices:
        if len(jax.devices()) >= 2:
            modes.append("2 dev")
        elif not gpu:
            forced = True
        # else one accelerator: no 2 dev rows (CPUs timed beside a GPU would mean nothing)
    seeds = args.vmap_seeds if args.vmap_seeds is not None else (4 if gpu else 0)
    if seeds > 1:
        modes.append(f"vmap {seeds}")
    return modes, forced


def _line(r: Row) -> str:
    if r.steps_per_s is None:
        return f"{r.model} {r.mode:7} B={r.batch:6d}: {r.status}"
    return (
        f"{r.model} {r.mode:7} B={r.batch:6d}: {r.steps_per_s:9.1f} steps/s "
        f"{r.points_per_s / 1e6:9.3f} Mpoints/s (compile {r.compile_s:.1f} s, {r.steps_timed} steps)"
    )


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    """The rows as a Markdown table (model, mode, batch), with the device in a heading line."""
    head = (
        f"Helmholtz, float32, {meta['device']} ({meta['device_count']} visible), jax {meta['jax']}; "
        f"batch = points per sampler (5 samplers), {meta['wall_s']:.0f} s in all"
        + (f"; {meta['note']}" if meta.get("note") else "")
        + "\n\n"
    )
    lines = [
        "| model | mode | batch/term | points/step | steps/s | points/s | compile s | steps timed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r.model, r.mode, r.batch)):
        if r.steps_per_s is None:
            lines.append(f"| {r.model} | {r.mode} | {r.batch} | | | | | {r.status} |")
        else:
            lines.append(
                f"| {r.model} | {r.mode} | {r.batch} | {r.points_per_step} | {r.steps_per_s:.1f} | "
                f"{r.points_per_s:.3g} | {r.compile_s:.1f} | {r.steps_timed} |"
            )
    return head + "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    ap.add_argument("--batches", type=ints, default=list(BATCHES), help="points per sampler, comma-separated")
    ap.add_argument("--steps", type=int, default=2000, help="most steps timed per measurement")
    ap.add_argument("--seconds", type=float, default=10.0, help="most seconds timed per measurement")
    ap.add_argument("--models", type=lambda s: s.split(","), default=["M1", "M4"])
    ap.add_argument("--devices", type=ints, default=[1, 2], help="device counts (1, 2)")
    ap.add_argument(
        "--vmap-seeds", type=int, help="seeds vmapped in one program (default: 4 on GPU, off on CPU)"
    )
    ap.add_argument("--max-seconds", type=float, default=240.0, help="wall-time cap for everything")
    ap.add_argument("--out", help="write the settings, device and rows as JSON here")
    ap.add_argument("--modes", type=lambda s: s.split(","), help=argparse.SUPPRESS)
    ap.add_argument("--json-rows", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    t_start = time.perf_counter()
    args = parse(argv)
    deadline = t_start + args.max_seconds
    modes, forced = plan(args)
    # with the forced-CPU subprocess still to run, this process keeps its modes' share of the time
    local = t_start + args.max_seconds * len(modes) / (len(modes) + 1) if forced else deadline
    rows = run_local(args, modes, local)
    if args.json_rows:  # the forced-CPU subprocess: rows for the parent, nothing else
        print(json.dumps([asdict(r) for r in rows]))
        return
    if forced:
        rows += run_forced_cpus(args, deadline)
    dev = jax.devices()[0]
    meta = {
        "device": getattr(dev, "device_kind", dev.platform),
        "platform": dev.platform,
        "device_count": len(jax.devices()),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("modes", "json_rows")},
        "wall_s": time.perf_counter() - t_start,
    }
    if 2 in args.devices and not forced and "2 dev" not in modes:
        meta["note"] = f"one {dev.platform} device visible: no 2 dev rows"
    print(markdown(rows, meta))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({**meta, "rows": [asdict(r) for r in rows]}, f, indent=1)


if __name__ == "__main__":
    main()
