"""Many runs at once: side-by-side processes, one progress bar, finished runs reused.

`run_many` starts up to ``workers`` spawned processes, each pinned to its own core
(`os.sched_setaffinity`) when there are enough cores, which gives more total throughput
than one run at a time (on the 2-core development machine ≈1.7x for Helmholtz, ≈1.2x for
the cavity), and shows the total progress in steps. Every worker computes with a one-thread
XLA client (`pinnsight.experiments.process.one_thread_xla`), as ``pinnsight train`` does, so
a run's numbers do not depend on whether it ran alone, pinned or in the pool. Pinned workers
are spawned while the parent's thread is on one core, so they import JAX as a ``taskset``
process does (`_one_core_while_spawning`); float64 Gauss–Newton runs then match a
``taskset -c K pinnsight train`` to the bit (an unpinned ``pinnsight train`` of one differs
in its last bits: docs/RESULTS.md §9).

A run folder whose ``summary.json`` says ``finished`` (or ``degraded``) with the same config
is not trained again; an unfinished one is resumed from its checkpoint. This makes
`compare`, `study` and `reproduce` resumable. The workers die with their parent
(``PR_SET_PDEATHSIG``), and a stop request (SIGINT/SIGTERM) stops them too: each
checkpoints its last chunk.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .. import interrupt
from . import run_folder
from .config import RunConfig

__all__ = ["Job", "run_many", "finished_summary", "plan"]


@dataclass(frozen=True)
class Job:
    config: RunConfig
    out_dir: Path


def finished_summary(job: Job) -> dict[str, Any] | None:
    """The summary of an already finished run of exactly this config, else None.

    Raises:
        FileExistsError: the folder holds a run of a *different* config.
        pinnsight.experiments.run_folder.RunFileError: a damaged or foreign run file.
    """
    status = run_folder.inspect_run(job.out_dir, job.config)
    if status.kind != "new" and not status.same_config:
        raise FileExistsError(
            f"{job.out_dir} holds a run with a different config; pass --overwrite to replace it "
            "or choose another --out."
        )
    return status.summary if status.complete else None


def _normalised(config: RunConfig) -> dict[str, Any]:
    return run_folder.normalised(config)


def plan(jobs: list[Job], *, overwrite: bool | str = False):
    """What `run_many` will do: the reused summaries (None where a job runs), for each job to
    run whether it starts over, one line per resumed or restarted run, and the steps already
    done. Every folder is read (and checked) before anything runs.

    ``overwrite``: True retrains every run; ``"unfinished"`` (``--restart``) starts the
    unfinished ones over and keeps the finished ones; False resumes and reuses."""
    summaries: list[dict | None] = []
    restart: dict[int, bool] = {}
    notes: list[str] = []
    resumed = 0
    everything, unfinished_only = overwrite is True, overwrite == "unfinished"
    for i, job in enumerate(jobs):
        status = run_folder.inspect_run(job.out_dir, job.config)
        if status.kind != "new" and not status.same_config and not everything:
            raise FileExistsError(
                f"{job.out_dir} holds a run with a different config; pass --overwrite to replace it "
                "or choose another --out."
            )
        if not everything and status.complete:
            summaries.append(status.summary)
            continue
        summaries.append(None)
        # a failed or diverged run starts over
        restart[i] = everything or unfinished_only or status.kind == "done"
        if unfinished_only and status.kind == "unfinished":
            notes.append(f"restarting {job.out_dir} from step 0 (--restart)")
        elif not everything and status.kind == "unfinished":
            if status.step is not None:
                notes.append(f"resuming {job.out_dir} from step {status.step} of {status.steps}")
                resumed += status.step
            else:
                notes.append(f"{job.out_dir} is unfinished and has no checkpoint: training it from step 0")
    return summaries, restart, notes, resumed


_WORKER: dict[str, Any] = {}


def _init_worker(counter, cores: list[int], pin: bool, progress, parent: int) -> None:
    """Pool initializer: signals, death with the parent, a core (round robin) if ``pin``,
    and a one-thread XLA client in any case."""
    from .process import die_with_parent, install_signal_watcher, one_thread_xla

    install_signal_watcher(quiet=True)
    die_with_parent(parent)
    with counter.get_lock():
        k = counter.value
        counter.value += 1
    if pin and hasattr(os, "sched_setaffinity") and cores:
        os.sched_setaffinity(0, {cores[k % len(cores)]})
    one_thread_xla()
    _WORKER["progress"] = progress


def _work(config_dict: dict, out_dir: str, restart: bool) -> dict[str, Any]:
    from .runs import run

    q = _WORKER.get("progress")

    def report(n: int, row: dict[str, float]) -> None:
        if q is not None:
            q.put(n)

    try:
        with interrupt.busy():
            result = run(
                RunConfig.from_dict(config_dict),
                out_dir,
                overwrite=restart,
                progress=False,
                on_chunk=report,
                announce=False,
            )
    except KeyboardInterrupt:  # stopped by a signal: the checkpoint is written, leave now
        os._exit(130)
    return result.summary


def _failed(err: BaseException) -> dict[str, Any]:
    return {"status": "failed", "error": str(err) or type(err).__name__}


def run_many(
    jobs: list[Job], *, workers: int = 2, overwrite: bool | str = False, desc: str = "runs"
) -> list[dict[str, Any]]:
    """Run every job (reusing finished ones unless ``overwrite``, resuming unfinished ones);
    summaries in job order.

    A failed run (divergence included) is reported in its summary as
    ``{"status": "failed", "error": message}`` instead of stopping the others.

    Raises:
        pinnsight.interrupt.Interrupted: a stop request (SIGINT/SIGTERM); the workers were
            stopped (each checkpoints its last chunk) before this returns.
    """
    summaries, restart, notes, resumed = plan(jobs, overwrite=overwrite)
    todo = sorted(restart)
    total = sum(jobs[i].config.total_steps for i in todo)
    for line in notes:
        print(line, file=sys.stderr, flush=True)
    bar = tqdm(total=total, initial=resumed, desc=desc, unit="step", smoothing=0.05, disable=total == 0)
    if workers <= 1 or len(todo) <= 1:
        from .runs import run

        try:
            for i in todo:
                interrupt.check()
                try:
                    summaries[i] = run(
                        jobs[i].config,
                        jobs[i].out_dir,
                        overwrite=restart[i],
                        progress=False,
                        on_chunk=lambda n, r: bar.update(n),
                        announce=False,
                    ).summary
                except Exception as err:  # noqa: BLE001 - recorded per run
                    summaries[i] = _failed(err)
        finally:
            bar.close()
        return summaries  # type: ignore[return-value]
    try:
        _in_pool(jobs, todo, restart, summaries, workers, bar)
    finally:
        bar.close()
    return summaries  # type: ignore[return-value]


@contextlib.contextmanager
def _one_core_while_spawning(cores: list[int]):
    """Pin the calling thread to ``cores[0]`` while the pool spawns its workers (in ``submit``).

    A spawned worker inherits that affinity, so it imports JAX seeing one core, as a process
    started under ``taskset`` does; `_init_worker` then moves it to its own core. Pinned only
    after the import, a worker sized some of XLA's threads for every core and ran them on its
    one core: float64 Gauss–Newton steps went 3x slower than under ``taskset`` (docs/RESULTS.md
    §9). ``[]``: nothing to do.
    """
    if not cores or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cores[0]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _in_pool(jobs, todo, restart, summaries, workers, bar) -> None:
    ctx = mp.get_context("spawn")
    progress = ctx.Queue()
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                bar.update(progress.get(timeout=0.2))
            except queue.Empty:
                continue
            except (EOFError, OSError):  # pragma: no cover - queue closed
                return

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = workers <= len(cores)
    counter = ctx.Value("i", 0)
    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(counter, cores, pin, progress, os.getpid()),
    )
    try:
        with interrupt.busy(), _one_core_while_spawning(cores if pin else []):
            futures = {
                pool.submit(_work, _normalised(jobs[i].config), str(jobs[i].out_dir), restart[i]): i
                for i in todo
            }
            pending = set(futures)
            while pending:
                interrupt.check()
                done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        summaries[i] = fut.result()
                    except Exception as err:  # noqa: BLE001 - recorded per run
                        summaries[i] = _failed(err)
    except BaseException:
        _stop_workers(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        stop.set()
        thread.join()
        progress.close()
        progress.cancel_join_thread()


def _stop_workers(pool: cf.ProcessPoolExecutor, grace: float = 1.0) -> None:
    """SIGTERM every worker (each checkpoints its chunk and exits), SIGKILL what is left
    after ``grace`` seconds, and drop the pool without waiting for its queue."""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(0.5)
    pool.shutdown(wait=False, cancel_futures=True)
