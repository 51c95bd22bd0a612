"""Nothing lost: runs survive SIGKILL/SIGINT/SIGTERM at random moments and resume bit for bit;
one process per run folder; no traceback for damaged or foreign run files; memory refused
up front; the same numbers alone, pinned or in the pool.

Subprocesses share a persistent XLA compilation cache (one-thread processes only), so a
rerun costs its start-up rather than a compile. ``PINNSIGHT_KILLS=20`` raises the number of
interruptions of the kill test (default 4), ``PINNSIGHT_FUZZ=500`` the fuzzed folders (40).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinnsight as ps
from pinnsight import interrupt, memory
from pinnsight.cli import main
from pinnsight.experiments import run_folder
from pinnsight.experiments.config import RunConfig
from pinnsight.experiments.runs import run

TINY = ["--set", "net.layers=(1,8,8,1)", "run.chunk_size=100"]
FUZZ_ARGS = ["--steps", "200", "--set", "net.layers=(1,8,8,1)", "run.chunk_size=50",
             "diagnostics.hist_steps=(0,100,200)", "diagnostics.stiffness_every=100"]  # fmt: skip
TIMING = ("wall_time", "steps_per_s")
STEPS = 6_000  # a second or two of training: interrupted several times, then finished


# -- helpers ------------------------------------------------------------------------------


def _command() -> list[str]:
    exe = shutil.which("pinnsight")
    if exe:
        return [exe]
    code = "import sys; sys.argv[0] = 'pinnsight'; from pinnsight.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Subprocess environment: CPU, and a compilation cache of their own (one-thread XLA)."""
    cache = tmp_path_factory.mktemp("xla-cache")
    e = dict(os.environ)
    e.update(
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        PINNSIGHT_CACHE=str(tmp_path_factory.mktemp("ref-cache")),
    )
    e.pop("PINNSIGHT_DEBUG", None)
    return e


@pytest.fixture(scope="module", autouse=True)
def in_process_cache(tmp_path_factory):
    """This process compiles the same tiny runs several times: cache them (restored after)."""
    old = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla-cache-here")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield
    jax.config.update("jax_compilation_cache_dir", old)


def _train_args(out: Path, steps: int = STEPS) -> list[str]:
    return ["train", "poisson1d", "--quiet", "--steps", str(steps), "--out", str(out), *TINY,
            f"diagnostics.hist_steps=(0,{steps})"]  # fmt: skip


_REFERENCE = """
import sys
sys.argv[0] = "pinnsight"
from pinnsight.experiments.process import one_thread_xla
one_thread_xla()
from pinnsight.cli import _base_config, build_parser
from pinnsight.experiments.runs import run
args = build_parser().parse_args(sys.argv[1:])
run(_base_config(args), args.out, progress=False)
"""


@pytest.fixture(scope="module", autouse=True)
def reference_process(request, tmp_path_factory, env):
    """The run `alone` stands for, started with this module's first test when a selected test
    needs it: an uninterrupted run, alone in its process (one-thread XLA as the command), no
    report. It trains beside the in-process tests before the first test that needs it, which
    waits for it; so does every test that times a signal (`quiet`)."""
    here = [item for item in request.session.items if item.module is request.module]
    if not any("alone" in item.fixturenames for item in here):
        yield None
        return
    ref = tmp_path_factory.mktemp("alone") / "run"
    log = ref.with_name("stderr")
    with log.open("w") as err:  # a file, not a pipe: nothing to fill up while it runs unread
        args = [sys.executable, "-c", _REFERENCE, *_train_args(ref)]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err)
    yield ref, proc, log
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def alone(reference_process) -> Path:
    """The tiny run of `_train_args`, uninterrupted and alone in its process."""
    ref, proc, log = reference_process
    assert proc.wait() == 0, log.read_text()[-3000:]
    return ref


@pytest.fixture
def quiet(reference_process) -> None:
    """No process of this module's runs in the background: the test measures time. (Under the
    README's ``-n 2`` the other pytest worker's tests run beside it; the 2 s bounds keep their
    margin: 0.11 s to stop, 0.13 s for the workers to die, measured so on 2 cores.)"""
    if reference_process is not None:
        reference_process[1].wait()


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as fh:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(fh)]


def _line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _assert_same_run(a: Path, b: Path) -> None:
    """Final parameters and the whole optimiser state bit for bit; metrics rows (timing aside)."""
    assert (a / "model.eqx").read_bytes() == (b / "model.eqx").read_bytes()
    assert (a / "state.eqx").read_bytes() == (b / "state.eqx").read_bytes()
    assert _rows(a) == _rows(b)
    ha, hb = run_folder.load_histograms(a), run_folder.load_histograms(b)
    assert ha.keys() == hb.keys() and all(np.array_equal(ha[k], hb[k]) for k in ha)
    for name in ("final_error", "final_loss", "final_lambda", "status", "steps"):
        assert (
            json.loads((a / "summary.json").read_text())[name]
            == json.loads((b / "summary.json").read_text())[name]
        )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie has exited (its reaper may be slow)


def _catches_sigterm(pid: int) -> bool:
    """pinnsight's own code runs in ``pid`` (it installed its SIGTERM handler, which Python
    itself never does: before that the interpreter is still starting up)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                status = (d / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                out.append(int(d.name))
    return out


# -- the trajectory does not depend on where chunks are cut -----------------------------------


def test_cutting_chunks_into_calls_anywhere_changes_nothing(monkeypatch):
    """`fit` runs a chunk in calls whose length follows the measured speed; random lengths
    (1..7 steps) give the same bits as the default (the claim the 2-s stop relies on)."""
    from pinnsight import train

    problem, net = ps.get_problem("poisson1d"), ps.MLP((1, 8, 8, 1), key=jax.random.PRNGKey(0))
    kw = dict(steps=90, key=jax.random.PRNGKey(3), chunk_size=30)
    base = ps.fit(problem, net, **kw)
    rng = random.Random(0)

    class Random(train._ChunkRunner):
        @property
        def fixed(self):
            return rng.randint(1, 7)

        @fixed.setter
        def fixed(self, value):
            pass

    monkeypatch.setattr(train, "_ChunkRunner", Random)
    cut = ps.fit(problem, net, **kw)
    for a, b in zip(jax.tree_util.tree_leaves(base.state), jax.tree_util.tree_leaves(cut.state), strict=True):
        assert np.array_equal(a, b)
    for k in base.history:
        if k not in TIMING:
            assert np.array_equal(base.history[k], cut.history[k]), k


# -- kills at random moments -----------------------------------------------------------------


def test_sigkill_sigint_sigterm_at_random_moments_resume_bit_identical(tmp_path, env, alone):
    """Interrupt ``pinnsight train`` again and again (SIGKILL, SIGINT, SIGTERM, at random
    moments: while it imports, compiles or trains), rerun it each time; it ends bit-identical
    to an uninterrupted run, no file lost. SIGINT/SIGTERM: exit 130 within 2 s, one line.
    (Not covered: the interpreter's own first few hundred ms, before any pinnsight code runs,
    where Python's defaults apply — nothing has been written then.)"""
    n_kills = int(os.environ.get("PINNSIGHT_KILLS", "4"))
    rng = random.Random(1)
    kills: list[tuple[str, str, float]] = []
    rounds = 0
    while len(kills) < n_kills:  # a run finished before enough kills: another one, same config
        out = tmp_path / f"killed{rounds}"
        kills += _interrupt_until_finished(
            [*_command(), *_train_args(out)], out, n_kills - len(kills), rng, env
        )
        for f in ("config.json", "metrics.csv", "model.eqx", "state.eqx", "summary.json", "histograms.npz"):
            assert (out / f).is_file(), f"{f} lost"
        assert (out / "report.html").is_file() and not [f for f in os.listdir(out) if ".tmp" in f]
        _assert_same_run(alone, out)
        rounds += 1
    summary = ", ".join(f"{s}@{p}({t:.2f}s)" for s, p, t in kills)
    print(f"\n{len(kills)} interruptions survived in {rounds} run(s): {summary}")


def _interrupt_until_finished(cmd, out: Path, budget: int, rng, env) -> list[tuple[str, str, float]]:
    """Rerun ``cmd`` until it finishes, interrupting it at most ``budget`` times."""
    kills: list[tuple[str, str, float]] = []
    while True:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sig = rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
        rows0 = _line_count(out / "metrics.csv")
        phase = "start-up" if rng.random() < 0.2 else "training"
        if len(kills) >= budget:
            phase = "none"
        elif phase == "start-up":  # imports, config, compilation (from when pinnsight's code runs)
            while proc.poll() is None and not _catches_sigterm(proc.pid):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 2.5))
        else:  # wait for this process's first new row, then a random moment of training
            while proc.poll() is None and _line_count(out / "metrics.csv") <= rows0:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
        if phase == "none" or proc.poll() is not None:  # let it finish / it finished first
            _, stderr = proc.communicate(timeout=600)
            assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-3000:]
            return kills
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - t0
        if proc.returncode == 0:  # it finished between the last look and the signal
            return kills
        kills.append((sig.name, phase, took))
        assert "Traceback" not in stderr, stderr[-3000:]
        if sig == signal.SIGKILL:
            assert proc.returncode == -9
        else:
            lines = [x for x in stderr.splitlines() if x.startswith("pinnsight: interrupted")]
            assert proc.returncode == 130 and len(lines) == 1, (proc.returncode, stderr[-2000:])
            assert took < 2.0, f"{sig.name} took {took:.2f} s to stop the command ({phase})"


def test_a_stop_request_waits_for_at_most_half_a_second_of_a_long_chunk(tmp_path, env, quiet):
    """One chunk of ~10 s (60,000 steps): SIGINT still ends the command within 2 s, through the
    training loop (the network is saved), not the hard exit."""
    out = tmp_path / "long"
    args = _train_args(out, steps=60_000)
    args[args.index("run.chunk_size=100")] = "run.chunk_size=60000"
    proc = subprocess.Popen(
        [*_command(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    while not (out / "config.json").exists():  # written once compiled, as training starts
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.01)
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    print(f"\nSIGINT in a 60,000-step chunk: stopped in {took:.2f} s")
    assert proc.returncode == 130 and took < 2.0, (proc.returncode, took, stderr[-2000:])
    assert stderr.strip().splitlines()[-1].startswith("pinnsight: interrupted by SIGINT")
    assert (out / "model.eqx").exists() and not (out / "summary.json").exists()


def test_a_killed_compare_leaves_no_orphans_and_resumes_as_run_alone(tmp_path, env, alone):
    """SIGKILL the ``compare`` parent while both pool workers train: the workers die with it
    (within 2 s); ``compare`` again resumes what was unfinished; M1 ends bit-identical to the
    same config trained alone by ``pinnsight train`` (the pool does not change a run's numbers)."""
    common = ["--steps", str(STEPS), *TINY, f"diagnostics.hist_steps=(0,{STEPS})"]
    out = tmp_path / "cmp"
    cmd = [*_command(), "compare", "poisson1d", "--models", "M1,M2", "--jobs", "2", "--out", str(out)]
    cmd += common
    log = tmp_path / "compare.log"
    with log.open("w") as fh:  # not a pipe: the workers share it, and would keep it open
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not all((out / m / "seed0" / "state.eqx").exists() for m in ("M1", "M2")):
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    proc.kill()
    t0 = time.monotonic()
    unfinished = [m for m in ("M1", "M2") if not (out / m / "seed0" / "summary.json").exists()]
    proc.wait()
    while any(_alive(p) for p in workers) and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    gone = time.monotonic() - t0
    print(f"\n{len(workers)} workers of the killed compare gone after {gone:.2f} s")
    assert not any(_alive(p) for p in workers), "orphaned workers"
    assert gone < 2.0, f"workers took {gone:.2f} s to die with their parent"
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("resuming ") == len(unfinished) >= 1, again.stderr[-2000:]
    _assert_same_run(alone, out / "M1" / "seed0")


# -- one process per folder; --overwrite keeps foreign files -----------------------------------


def test_the_lock_refuses_a_second_process_naming_its_pid(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.truncate(0); f.write(str(os.getpid())); f.flush(); print('locked', flush=True)\n"
            "time.sleep(60)",
            str(out / run_folder.LOCK),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(_train_args(out, steps=100)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"PID {holder.pid}" in err[0] and "in use" in err[0], err
        assert sorted(os.listdir(out)) == [run_folder.LOCK]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    with run_folder.FolderLock(out), pytest.raises(run_folder.FolderBusyError, match=f"PID {os.getpid()}"):
        run_folder.FolderLock(out).acquire()


def test_overwrite_removes_only_pinnsight_files(folders, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(folders["finished"], out)
    cfg = run_folder.read_config(out)
    (out / "fields.png").write_bytes(b"a figure pinnsight drew")
    (out / "notes.txt").write_text("mine")
    (out / "analysis.py").write_text("print(1)")
    (out / "sub").mkdir()
    with pytest.raises(FileExistsError, match="already holds a run"), run_folder.open_run(out, cfg):
        pass
    with run_folder.open_run(out, cfg, overwrite=True) as opened:  # what --overwrite/--restart do
        assert opened.status.kind == "new"
    assert sorted(os.listdir(out)) == ["analysis.py", "notes.txt", run_folder.LOCK, "sub"]
    assert (out / "notes.txt").read_text() == "mine"
    # a folder whose config.json is not pinnsight's: nothing is removed
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"name": "my-app", "version": 3}')
    (foreign / "metrics.csv").write_text("a,b\n1,2\n")
    capsys.readouterr()
    assert main([*_train_args(foreign, steps=200), "--restart"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json" in err[0] and "not a pinnsight config" in err[0], err
    assert sorted(os.listdir(foreign)) == ["config.json", "metrics.csv"]


# -- damaged and foreign run files: one line, exit 2 --------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A finished compare (its run doubles as a finished run) and an unfinished run."""
    root = tmp_path_factory.mktemp("fuzz")
    cmp = root / "cmp"
    cfg = RunConfig.create(problem="poisson1d").with_assignments(FUZZ_ARGS[3:]).override(steps=200)
    run(cfg.override(model="M1", seed=0), cmp / "M1" / "seed0", progress=False)  # as compare would
    unfinished = root / "unfinished"

    class Stop(ps.Callback):
        def on_chunk(self, ctx, row):
            if ctx.done == 100:
                interrupt.request("test")

    with pytest.raises(KeyboardInterrupt):
        run(cfg, unfinished, progress=False, callbacks=[Stop()])
    interrupt.clear()
    assert not (unfinished / "summary.json").exists() and (unfinished / "state.eqx").exists()
    return {"finished": cmp / "M1" / "seed0", "unfinished": unfinished, "compare": cmp}


def test_unfinished_runs_are_named_not_reused(folders, capsys):
    assert main(["diagnose", str(folders["unfinished"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unfinished" in err[0] and "step 100 of 200" in err[0], err


# what each command reads: corrupting one of these must give one error line naming it
READS = {
    ("diagnose", "finished"): ["config.json", "summary.json", "model.eqx", "metrics.csv", "histograms.npz",
                               "stiffness.csv"],
    ("compare", "finished"): ["config.json", "summary.json", "model.eqx", "metrics.csv", "histograms.npz"],
    ("train", "unfinished"): ["config.json", "state.eqx", "metrics.csv"],
    ("train", "finished"): ["config.json", "summary.json"],
}  # fmt: skip
FOREIGN = [{"name": "my-app", "version": 3, "dependencies": {}}, ["a", 1], "text", 3.5, None]


def _corrupt(path: Path, how: str, data) -> None:
    raw = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncate":  # text loses more than its trailing newline
        end = len(raw.rstrip()) if path.suffix in (".json", ".csv") else len(raw)
        path.write_bytes(raw[: int(end * data.draw(st.floats(0.0, 0.999)))])
    elif how == "garbage":
        path.write_bytes(data.draw(st.binary(min_size=1, max_size=64)))
    elif how == "foreign json":
        path.write_text(json.dumps(data.draw(st.sampled_from(FOREIGN))))
    elif how == "wrong types":
        if path.suffix != ".json":
            text = raw.decode().splitlines()
            i = data.draw(st.integers(1, len(text) - 1))
            cells = text[i].split(",")
            j = data.draw(st.integers(0, len(cells) - 1))
            cells[j] = data.draw(st.sampled_from(["abc", "", "[1]", "0x1p3"]))
            text[i] = ",".join(cells)
            path.write_text("\n".join(text) + "\n")
            return
        tree = json.loads(raw)
        keys, node = [], tree
        while isinstance(node, dict) and node:
            k = data.draw(st.sampled_from(sorted(set(node) - {"resolved"})))  # "resolved": a record
            keys.append(k)
            if not isinstance(node[k], dict) or data.draw(st.booleans()):
                break
            node = node[k]
        if path.name == "summary.json":  # the fields pinnsight reads
            keys = [data.draw(st.sampled_from(sorted(run_folder._SUMMARY_TYPES)))]
        parent = tree
        for k in keys[:-1]:
            parent = parent[k]
        old = parent[keys[-1]]
        parent[keys[-1]] = ["?"] if isinstance(old, dict) else {"?": [1]}
        path.write_text(json.dumps(tree))


@settings(
    max_examples=int(os.environ.get("PINNSIGHT_FUZZ", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_or_foreign_run_files_give_one_line_and_exit_2(folders, tmp_path_factory, capsys, data):
    command, kind = data.draw(st.sampled_from(sorted(READS)))
    name = data.draw(st.sampled_from(READS[command, kind]))
    how = data.draw(st.sampled_from(["empty", "truncate", "garbage", "foreign json", "wrong types"]))
    if how == "wrong types" and name.endswith((".eqx", ".npz")):
        how = "garbage"
    if command == "compare":
        root = tmp_path_factory.mktemp("c") / "cmp"
        shutil.copytree(folders["compare"], root)
        target = root / "M1" / "seed0"
        argv = ["compare", "poisson1d", "--models", "M1", "--jobs", "1", "--out", str(root), *FUZZ_ARGS]
    else:
        target = tmp_path_factory.mktemp("r") / "run"
        shutil.copytree(folders[kind], target)
        if command == "diagnose":
            argv = ["diagnose", str(target)]
        else:
            argv = ["train", "poisson1d", "--quiet", "--out", str(target), *FUZZ_ARGS]
    _corrupt(target / name, how, data)
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("pinnsight: error:"), (command, name, how, rc, err)
    assert "Traceback" not in err[0]
    assert name in err[0], (command, name, how, err)


# -- memory; degraded runs --------------------------------------------------------------------


def test_a_step_that_cannot_fit_is_refused_with_both_numbers(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 2 * 1024**3)
    out = tmp_path / "big"
    argv = ["train", "poisson1d", "--quiet", "--out", str(out), "--set", "sampling.batch_size=10000000",
            "net.layers=(1,8,8,1)"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs about" in err[0] and "only 2.0 GiB is available" in err[0], err
    assert not out.exists()
    from pinnsight.reference.cavity import cavity_reference

    monkeypatch.setenv("PINNSIGHT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(memory.MemoryEstimateError, match=r"1024x1024 grid needs about .* GiB but only"):
        cavity_reference(100.0, 1024)


def test_degraded_runs_are_named_with_what_to_try():
    from pinnsight.train import degradation

    assert degradation([0.5, 0.1, 0.05, 0.06]) is None
    why = degradation([0.5, 0.01, 0.2])
    assert "20x its best" in why and "learning rate" in why and "--x64" in why and "recipe" in why
    assert "above 1" in degradation([0.9, 0.5, 1.3])
    assert degradation([1.2, 1.1, 1.15]) is None  # never good: not degraded, just not trained


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to pin"
)
def test_pool_workers_start_on_one_core_and_the_parent_gets_its_cores_back():
    """Workers spawned inside `_one_core_while_spawning` import JAX seeing one core (as under
    taskset: docs/RESULTS.md §9); the parent's affinity is restored afterwards."""
    import concurrent.futures as cf
    import multiprocessing as mp

    from pinnsight.experiments.parallel import _one_core_while_spawning

    before = os.sched_getaffinity(0)
    cores = sorted(before)
    pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    try:
        with _one_core_while_spawning(cores):
            seen = pool.submit(os.sched_getaffinity, 0)
        assert seen.result(timeout=60) == {cores[0]}
    finally:
        pool.shutdown()
    assert os.sched_getaffinity(0) == before


def test_restart_of_several_runs_starts_the_unfinished_over_and_keeps_the_finished(monkeypatch, tmp_path):
    """`compare/study/reproduce --restart` (plan's overwrite="unfinished"): a finished run is
    reused, an unfinished one starts from step 0; --overwrite (True) retrains both."""
    from pinnsight.experiments import parallel

    finished = {"status": "finished", "final_error": 0.1}
    statuses = {
        "done": run_folder.RunStatus("done", summary=finished),
        "half": run_folder.RunStatus("unfinished", step=500, steps=1000),
    }
    monkeypatch.setattr(run_folder, "inspect_run", lambda path, config=None: statuses[Path(path).name])
    jobs = [parallel.Job(None, tmp_path / "done"), parallel.Job(None, tmp_path / "half")]
    summaries, restart, notes, resumed = parallel.plan(jobs, overwrite="unfinished")
    assert summaries == [finished, None] and restart == {1: True} and resumed == 0
    assert notes == [f"restarting {tmp_path / 'half'} from step 0 (--restart)"]
    summaries, restart, _, resumed = parallel.plan(jobs, overwrite=False)
    assert summaries == [finished, None] and restart == {1: False} and resumed == 500
    summaries, restart, _, _ = parallel.plan(jobs, overwrite=True)
    assert summaries == [None, None] and restart == {0: True, 1: True}
