"""Data-parallel training on two (forced) CPU devices: `pinnsight.data_parallel`.

JAX fixes its device count when its backend starts, so each check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` set before ``import jax``. The two
subprocesses are independent: both start with this module's first test and run side by side
(on two cores the second costs no wall time of its own); each test waits for its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TWO_CPUS = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}

LIBRARY = textwrap.dedent(
    """
    import contextlib
    import io
    import json
    import sys

    import equinox as eqx
    import jax
    import numpy as np
    import pinnsight as ps
    from pinnsight.cli import main
    from pinnsight.data_parallel import data_mesh, replicate, shard_points
    from pinnsight.losses import batch_sizes, sample_points, term_losses_and_gradients
    from pinnsight.train import init_state, make_step

    assert len(jax.devices()) == 2, jax.devices()
    out = {}
    problem = ps.get_problem("poisson1d", C=1.0)
    net = ps.MLP((1, 16, 16, 1), key=jax.random.PRNGKey(0))
    mesh = data_mesh(2)
    sizes = batch_sizes(problem, 64)

    # the same points: losses and gradients on one device and sharded over two
    params, static = eqx.partition(net, eqx.is_inexact_array)
    pts = sample_points(problem, jax.random.PRNGKey(5), sizes)
    lg = lambda p, x: term_losses_and_gradients(problem, static, p, x)
    one = jax.jit(lg)(params, pts)
    two = jax.jit(lambda p, x: lg(p, shard_points(x, mesh)))(replicate(params, mesh), replicate(pts, mesh))
    out["grad_close"] = all(
        np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
        for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(two))
    )
    out["n_leaves"] = len(jax.tree_util.tree_leaves(one))

    # one whole step (Adam, fixed weights) from the same state: same metrics and new state
    opt, bal, sampler = ps.paper_optimizer(), ps.fixed(), ps.sampling.uniform(problem.domain)
    state = init_state(problem, net, opt, bal, sampler, jax.random.PRNGKey(1))
    s1, m1 = jax.jit(make_step(problem, net, opt, bal, sizes, sampler))(state)
    s2, m2 = jax.jit(make_step(problem, net, opt, bal, sizes, sampler, devices=2))(replicate(state, mesh))
    out["metrics"] = {k: [float(m1[k]), float(m2[k])] for k in m1}
    out["step_close"] = all(
        np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        for a, b in zip(jax.tree_util.tree_leaves(s1.params), jax.tree_util.tree_leaves(s2.params))
    )
    out["replicated"] = jax.tree_util.tree_leaves(s2.params)[0].sharding.is_fully_replicated

    # fit on two devices runs chunk after chunk
    r = ps.fit(problem, net, steps=300, key=jax.random.PRNGKey(2), batch_size=64, chunk_size=100, devices=2)
    out["fit_loss"] = [float(v) for v in r.history["loss"]]
    out["fit_error"] = float(r.summary["final_error"])

    # refused, one line each: by fit, and by the command before its folder exists
    for name, kw in {"too_many": dict(devices=3), "odd_batch": dict(devices=2, batch_size=63)}.items():
        try:
            ps.fit(problem, net, steps=1, key=jax.random.PRNGKey(0), **{"batch_size": 64, **kw})
        except ValueError as err:
            out[name] = str(err)
    bad = sys.argv[1]
    cases = {"cli_too_many": ["3"], "cli_odd_batch": ["2", "--set", "sampling.batch_size=63"]}
    for name, extra in cases.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["train", "poisson1d", "--quiet", "--out", bad, "--devices", *extra])
        out[name] = [rc, err.getvalue()]
    print("RESULT " + json.dumps(out))
    """
)


class _Started:
    """A subprocess with two CPU devices, its output going to files (no pipe to fill up)."""

    def __init__(self, args: list[str], logs: Path):
        logs.mkdir(parents=True, exist_ok=True)
        self.out, self.err = logs / "stdout", logs / "stderr"
        with self.out.open("w") as out, self.err.open("w") as err:
            env = {**os.environ, **TWO_CPUS}
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, env=env)

    def result(self, timeout: float = 240) -> subprocess.CompletedProcess:
        rc = self.proc.wait(timeout=timeout)
        return subprocess.CompletedProcess(self.proc.args, rc, self.out.read_text(), self.err.read_text())


@pytest.fixture(scope="module", autouse=True)
def started(request, tmp_path_factory):
    """The subprocesses of the selected tests (`library`, `cli`), all started with this module's
    first test: the library checks with a folder that must never be made, and ``pinnsight
    train --devices 2`` with its run folder."""
    wanted = {f for item in request.session.items if item.module is request.module for f in item.fixturenames}
    root = tmp_path_factory.mktemp("devices")
    bad, out = root / "bad", root / "run"
    cmd = [sys.executable, "-m", "pinnsight.cli", "train", "poisson1d", "--quiet"]
    commands = {
        "library": [sys.executable, "-c", LIBRARY, str(bad)],
        "cli": [*cmd, "--devices", "2", "--set", "run.steps=200", "--out", str(out)],
    }
    procs = {name: _Started(args, root / f"{name}-logs") for name, args in commands.items() if name in wanted}
    yield {"procs": procs, "bad": bad, "out": out}
    for p in procs.values():
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()


@pytest.fixture
def library(started) -> tuple[subprocess.CompletedProcess, Path]:
    """The library checks' process, finished, and the folder it must never have made."""
    return started["procs"]["library"].result(), started["bad"]


@pytest.fixture
def cli(started) -> tuple[subprocess.CompletedProcess, Path]:
    """``pinnsight train --devices 2``, finished, and its run folder."""
    return started["procs"]["cli"].result(), started["out"]


def test_two_devices_give_the_one_device_losses_gradients_and_step_and_fit_runs(library):
    proc, bad = library
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    assert out["grad_close"] and out["n_leaves"] > 4
    for k, (a, b) in out["metrics"].items():
        assert abs(a - b) <= 1e-5 * abs(a) + 1e-7, (k, a, b)
    assert out["step_close"] and out["replicated"]
    losses = out["fit_loss"]
    assert len(losses) == 3 and all(abs(v) < float("inf") for v in [*losses, out["fit_error"]])
    assert losses[-1] < losses[0]
    assert "devices = 3 but JAX sees 2 cpu device(s)" in out["too_many"] and "\n" not in out["too_many"]
    assert "not divisible by devices = 2" in out["odd_batch"] and "multiple of 2" in out["odd_batch"]
    assert "\n" not in out["odd_batch"]
    for name, words in (("cli_too_many", "run.devices <= 2"), ("cli_odd_batch", "multiple of 2")):
        rc, err = out[name]
        assert rc == 2 and err.startswith("pinnsight: error:") and words in err and err.count("\n") == 1
    assert not bad.exists()


def test_the_cli_trains_on_two_devices(cli):
    ok, out = cli
    assert ok.returncode == 0, ok.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in ("finished", "degraded") and summary["steps"] == 200
    assert json.loads((out / "config.json").read_text())["run"]["devices"] == 2


def test_distributed_is_initialised_only_when_asked(monkeypatch):
    import jax

    from pinnsight.data_parallel import initialize_distributed

    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    assert not initialize_distributed({}) and not initialize_distributed({"PINNSIGHT_DISTRIBUTED": "0"})
    env = {"PINNSIGHT_DISTRIBUTED": "1", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "2"}
    assert initialize_distributed(env) and calls == [{"num_processes": 4, "process_id": 2}]
    assert initialize_distributed({"PINNSIGHT_DISTRIBUTED": "1", "SLURM_PROCID": "0"}) and calls[-1] == {}


def test_one_device_is_no_mesh_at_all():
    from pinnsight.data_parallel import check_batch, data_mesh, replicate, shard_points

    assert data_mesh(None) is None and data_mesh(1) is None
    tree = {"a": object()}
    assert replicate(tree, None) is tree and shard_points(tree, None) == tree
    check_batch({"residual": 7}, None)
