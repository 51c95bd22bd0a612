r"""DeepXDE and pinnsight side by side: the same problem, network, points and optimiser.

    pip install "pinnsight[bench]"            # DeepXDE (and flax, for its jax backend)
    python benchmarks/peers.py                # 3000 timed steps per case, 2 interleaved rounds
    python benchmarks/peers.py --steps 200 --warmup 20 --rounds 1     # a quick check
    python benchmarks/peers.py --cores 1      # every worker pinned to one core

**The work** (PAPER §6; Wang, Teng & Perdikaris 2021): the Helmholtz equation
$\Delta u + k^2 u = q$ on $[-1,1]^2$, $u = \sin(a_1\pi x)\sin(a_2\pi y)$ with $a_1 = 1$,
$a_2 = 4$, $k = 1$, $u = 0$ on the boundary; a tanh MLP 2-50-50-50-1 (``--layers``),
Glorot-normal kernels, zero biases; Adam with a constant learning rate $10^{-3}$; float32.

**The points, exactly as each framework does it** (neither can do the other's way):

- *pinnsight*: per step, 128 new uniform residual points in the square and 128 new points on
  each of the four edges (512 boundary points), drawn inside the compiled step; loss =
  residual MSE + the four edges' MSEs (λ = 1 for M1, learning-rate annealing for M4).
- *DeepXDE* (``dde.data.PDE(num_domain=128, num_boundary=512, train_distribution="pseudo")``):
  its residual term always covers the domain points *and* the boundary points (640), and it
  evaluates the PDE on its whole input, boundary-condition points included (1152 points);
  loss = residual MSE + the Dirichlet MSE on the 512 boundary points. Two variants:
  ``fixed`` (its default: the same points every step) and ``resample``
  (``dde.callbacks.PDEPointResampler(period=1)``: the 640 residual points redrawn on the
  host after every step; the jax backend keeps the 512 condition points fixed, as DeepXDE
  resamples condition points only with pytorch and paddle).

**The models.** pinnsight M1 = MLP, fixed weights; M4 = modified MLP (PAPER eqs. 43–47) with
learning-rate annealing (PAPER Algorithm 1, every 10 steps). DeepXDE's closest M1 is its
``FNN``; its closest M4 is the same modified MLP written as a flax network for DeepXDE's
``jax`` backend (``M4~``: DeepXDE has neither a modified MLP nor gradient-based loss
weights, so ``M4~`` uses fixed weights and does *less* work per step than pinnsight's M4).

**The timing.** Every measurement is a fresh subprocess (one framework and model each),
the cases interleaved (A B C … A B C …, ``--rounds``) so that both see the same machine.
pinnsight: ``--steps`` / the time inside its compiled chunk calls (`pinnsight.fit`'s
``train_time_s``; its step was compiled before, its per-chunk logging is outside).
DeepXDE: a warm-up ``model.train`` of ``--warmup`` steps compiles its step, then
``--steps`` / the wall time of ``model.train(iterations=steps, display_every=steps)`` — its
loop as its users run it: one jitted step per Python iteration (plus the resampler).
Both report the relative L2 error on a 100 × 100 grid after training, as a check that both
solved the same problem. Prints steps/s per round and the ratios pinnsight / DeepXDE's
fastest variant and backend, per round and of the medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

A1, A2, K = 1.0, 4.0, 1.0
N_RESIDUAL, N_BOUNDARY = 128, 512
LEARNING_RATE = 1e-3
BACKEND_MODULES = {
    "jax": ("jax", "flax", "optax"),
    "pytorch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow_probability"),
    "paddle": ("paddle",),
}
"""DeepXDE's backends and the modules each needs (tried in this order)."""
PEERS = {"M1": "M1", "M4": "M4~"}
"""pinnsight's model -> DeepXDE's closest (see the module docstring)."""


# ---------------------------------------------------------------------------------------
# workers (one per subprocess)
# ---------------------------------------------------------------------------------------


def _pin(cores: int | None) -> None:
    """Restrict this process to its first ``cores`` allowed cores (before any library loads)."""
    if cores and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:cores])


def _exact_grid(n: int = 100):
    """The exact solution on an ``n`` × ``n`` grid of the square: points ``(n², 2)``, values ``(n², 1)``."""
    import numpy as np

    g = np.linspace(-1.0, 1.0, n)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([x.ravel(), y.ravel()], -1).astype(np.float32)
    return pts, (np.sin(A1 * np.pi * pts[:, :1]) * np.sin(A2 * np.pi * pts[:, 1:])).astype(np.float32)


def run_pinnsight(model: str, steps: int, layers: tuple[int, ...], seed: int) -> dict[str, Any]:
    """Train pinnsight's ``model`` (M1 or M4) for ``steps`` steps; its training rate and error."""
    import pinnsight as ps

    cfg = ps.RunConfig.create(
        problem="helmholtz",
        recipe=model,
        a1=A1,
        a2=A2,
        k=K,
        steps=steps,
        seed=seed,
        batch_size=N_RESIDUAL,
        **{"net.layers": layers, "optim.learning_rate": LEARNING_RATE, "optim.decay_rate": 1.0},
    )
    s = ps.run(cfg, progress=False).summary
    return {"steps_per_s": s["steps_per_s"], "error": s["final_error"], "eval_log_share": s["eval_log_share"]}


def _deepxde_modified_mlp(dde, layers: tuple[int, ...]):
    r"""The modified MLP of pinnsight's M3/M4 as a flax network for DeepXDE's jax backend:
    $U = \tanh(xW^u + b^u)$, $V = \tanh(xW^v + b^v)$, $H^1 = x$,
    $Z^k = \tanh(H^kW^k + b^k)$, $H^{k+1} = Z^k\odot U + (1 - Z^k)\odot V$, output
    $H^{L+1}W + b$ (Glorot-normal kernels, zero biases; pinnsight draws the encoder's
    biases at random, which costs nothing)."""
    from collections.abc import Callable

    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    class ModifiedMLP(dde.nn.NN):
        layer_sizes: Any
        regularization: Any = None
        params: Any = None
        _input_transform: Callable | None = None
        _output_transform: Callable | None = None

        @nn.compact
        def __call__(self, inputs, training=False):
            def dense(n):
                return nn.Dense(n, kernel_init=jax.nn.initializers.glorot_normal())

            width = self.layer_sizes[1]
            u, v = jnp.tanh(dense(width)(inputs)), jnp.tanh(dense(width)(inputs))
            h = inputs
            for n in self.layer_sizes[1:-1]:
                z = jnp.tanh(dense(n)(h))
                h = z * u + (1.0 - z) * v
            return dense(self.layer_sizes[-1])(h)

    return ModifiedMLP(tuple(layers))


def _deepxde_model(dde, backend: str, model: str, layers: tuple[int, ...]):
    """DeepXDE's Helmholtz model (data, network, Adam): see the module docstring."""
    import numpy as np

    bkd = dde.backend
    c = K**2 - (A1 * np.pi) ** 2 - (A2 * np.pi) ** 2

    def pde(x, y):
        u = y[0] if backend == "jax" else y
        uxx, uyy = dde.grad.hessian(y, x, i=0, j=0), dde.grad.hessian(y, x, i=1, j=1)
        if backend == "jax":  # (value, function) pairs
            uxx, uyy = uxx[0], uyy[0]
        q = c * bkd.sin(A1 * np.pi * x[:, 0:1]) * bkd.sin(A2 * np.pi * x[:, 1:2])
        return uxx + uyy + K**2 * u - q

    geom = dde.geometry.Rectangle([-1.0, -1.0], [1.0, 1.0])
    bc = dde.icbc.DirichletBC(geom, lambda x: np.zeros((len(x), 1)), lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(
        geom, pde, bc, num_domain=N_RESIDUAL, num_boundary=N_BOUNDARY, train_distribution="pseudo"
    )
    if model == "M4~":
        net = _deepxde_modified_mlp(dde, layers)
    else:
        net = dde.nn.FNN(list(layers), "tanh", "Glorot normal")
    m = dde.Model(data, net)
    m.compile("adam", lr=LEARNING_RATE)
    return m


def run_deepxde(
    backend: str, model: str, points: str, steps: int, warmup: int, layers: tuple[int, ...], seed: int
) -> dict[str, Any]:
    """Train DeepXDE (``backend``; ``model`` M1 or M4~; ``points`` fixed or resample) for
    ``warmup`` steps, then time ``steps`` more; its rate and error."""
    os.environ["DDE_BACKEND"] = backend
    import deepxde as dde
    import numpy as np

    dde.config.set_default_float("float32")
    dde.config.set_random_seed(seed)
    m = _deepxde_model(dde, backend, model, layers)

    def callbacks():
        return [dde.callbacks.PDEPointResampler(period=1)] if points == "resample" else []

    m.train(iterations=warmup, display_every=warmup, verbose=0, callbacks=callbacks())
    t0 = time.perf_counter()
    m.train(iterations=steps, display_every=steps, verbose=0, callbacks=callbacks())
    if backend == "jax":  # train() ends with a loss on the host already; made explicit
        import jax

        jax.block_until_ready(m.params)
    elapsed = time.perf_counter() - t0
    pts, ref = _exact_grid()
    pred = np.asarray(m.predict(pts))
    return {
        "steps_per_s": steps / elapsed,
        "error": float(np.linalg.norm(pred - ref) / np.linalg.norm(ref)),
        "version": dde.__version__,
    }


def worker(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one case, ``pinnsight:MODEL`` or ``deepxde:BACKEND:MODEL:POINTS``."""
    parts = spec.split(":")
    layers = tuple(int(v) for v in args.layers.split(","))
    if parts[0] == "pinnsight":
        return run_pinnsight(parts[1], args.steps, layers, args.seed)
    _, backend, model, points = parts
    return run_deepxde(backend, model, points, args.steps, args.warmup, layers, args.seed)


# ---------------------------------------------------------------------------------------
# the parent: which backends, the interleaved rounds, the table
# ---------------------------------------------------------------------------------------


def deepxde_backends() -> list[str]:
    """DeepXDE's backends that import here (each tried in a subprocess of its own)."""
    if importlib.util.find_spec("deepxde") is None:
        return []
    found = []
    for backend, modules in BACKEND_MODULES.items():
        if any(importlib.util.find_spec(m) is None for m in modules):
            continue
        env = {**os.environ, "DDE_BACKEND": backend}
        probe = subprocess.run(
            [sys.executable, "-c", "import deepxde"], env=env, capture_output=True, timeout=300
        )
        if probe.returncode == 0:
            found.append(backend)
    return found


def cases(backends: list[str]) -> list[str]:
    """The worker specs of one round: per model, pinnsight, then each DeepXDE backend with fixed
    and with resampled points (``M4~`` on the jax backend only: its network is flax)."""
    out = []
    for model, peer in PEERS.items():
        out.append(f"pinnsight:{model}")
        for backend in backends:
            if peer == "M1" or backend == "jax":
                out += [f"deepxde:{backend}:{peer}:{points}" for points in ("fixed", "resample")]
    return out


def spawn(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """One case in a fresh subprocess; its JSON result (or the error it printed)."""
    argv = [sys.executable, os.path.abspath(__file__), "--worker", spec, "--steps", str(args.steps)]
    argv += ["--warmup", str(args.warmup), "--layers", args.layers, "--seed", str(args.seed)]
    argv += ["--cores", str(args.cores)] if args.cores else []
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"exit {proc.returncode}: {tail[:200]}"}
    return json.loads(lines[-1])


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    """Print the table and the ratios; return them (for the JSON line)."""
    print(f"{'case':32} {'steps/s per round':>26} {'median':>8} {'error':>9}")
    med: dict[str, float] = {}
    for spec, runs in results.items():
        rates = [r.get("steps_per_s") for r in runs]
        ok = [r for r in rates if r]
        med[spec] = statistics.median(ok) if ok else float("nan")
        shown = " / ".join(f"{r:.0f}" if r else "failed" for r in rates)
        err = next((r["error"] for r in reversed(runs) if r.get("error") is not None), float("nan"))
        print(f"{spec:32} {shown:>26} {med[spec]:8.0f} {err:9.2e}")
        for r in runs:
            if "failed" in r:
                print(f"    {spec} failed: {r['failed']}")
    ratios = {}
    for model, peer in PEERS.items():
        peers = [s for s in results if s.split(":")[2:3] == [peer] and not math.isnan(med[s])]
        if not peers or math.isnan(med[f"pinnsight:{model}"]):
            continue
        best = max(peers, key=lambda s: med[s])
        per_round = [
            a["steps_per_s"] / b["steps_per_s"]
            for a, b in zip(results[f"pinnsight:{model}"], results[best], strict=True)
            if a.get("steps_per_s") and b.get("steps_per_s")
        ]
        ratios[model] = {"vs": best, "median": med[f"pinnsight:{model}"] / med[best], "per_round": per_round}
        rounds = " / ".join(f"{r:.1f}x" for r in per_round)
        print(f"pinnsight {model} / {best} (DeepXDE's fastest): {ratios[model]['median']:.1f}x ({rounds})")
    return ratios


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000, help="timed steps per case")
    ap.add_argument("--warmup", type=int, default=200, help="DeepXDE steps before timing (compiles)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (A B … A B …)")
    ap.add_argument("--layers", default="2,50,50,50,1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cores", type=int, default=0, help="pin every worker to this many cores (0: all)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per case")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _pin(args.cores)
        print(json.dumps(worker(args.worker, args)))
        return 0
    backends = deepxde_backends()
    if not backends:
        print('DeepXDE is not importable here (pip install "pinnsight[bench]"): nothing to compare.')
        return 0
    specs = cases(backends)
    print(
        f"# Helmholtz a1={A1:g} a2={A2:g}, net {args.layers} tanh, Adam {LEARNING_RATE:g}, float32, "
        f"{args.steps} timed steps, {args.rounds} interleaved round(s); DeepXDE backends: "
        f"{', '.join(backends)}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        f"{f', pinned to {args.cores}' if args.cores else ''}"
    )
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in specs}
    for _ in range(args.rounds):
        for spec in specs:
            results[spec].append(spawn(spec, args))
    ratios = report(results, args)
    print(json.dumps({"results": results, "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
