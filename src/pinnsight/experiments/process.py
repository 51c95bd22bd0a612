"""How a pinnsight process runs: one XLA thread, signals that stop cleanly, no orphans.

**One XLA thread, so a run's numbers do not depend on where it ran.** XLA's CPU client
splits large reductions over its thread pool, whose size is the number of cores the process
may use when the client is created; the order of a float sum, and so the last bits, follow
it. (Measured: the input normalisation of every network, a mean over 100,000 points,
differs in its last bits between a process pinned to one core and one that is not, and so
does every parameter trained after it.) `one_thread_xla` creates the client
while the process is pinned to one core, then gives the process its cores back: every
training process — ``pinnsight train``, the in-process runs of ``compare --jobs 1``, and
each worker of `pinnsight.experiments.parallel.run_many`, pinned or not — computes with a
one-thread client, so the same config gives the same bits alone, pinned or in the pool.
(XLA's ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` flags do not
change this split; measured.) Small PINN steps lose nothing by it: they were never
efficient across threads, which is why `run_many` runs one process per core.

**Signals.** `install_signal_watcher` routes SIGINT/SIGTERM through `signal.set_wakeup_fd` to
a thread of its own, so a signal is seen at once even while the main thread is inside XLA
(compiling, say). The first one asks the training loop to stop (`pinnsight.interrupt`): `fit`
stops after its current compiled call (about half a second), the run folder checkpoints the
last chunk and the command exits with status 130 and one line. If the process is not in a
loop that stops by itself, or has not stopped after `GRACE_S`, it exits at once — safe,
since every file is replaced atomically and a checkpoint is written after every chunk. A
second signal exits at once.

**Workers die with their parent.** `die_with_parent` asks Linux (``prctl(PR_SET_PDEATHSIG,
SIGTERM)``) to send the worker SIGTERM when its parent dies, however it dies.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from .. import interrupt

__all__ = ["one_thread_xla", "install_signal_watcher", "die_with_parent", "GRACE_S", "EXIT_INTERRUPTED"]

GRACE_S = 1.2
"""Seconds a stop request waits for the training loop before the process exits anyway."""
EXIT_INTERRUPTED = 130

_installed = [False]
_quiet = [False]


def one_thread_xla() -> bool:
    """Create JAX's backends with a one-thread XLA CPU client (see the module docstring).

    Must run before the process's first JAX computation; returns False (and changes nothing)
    if the backends already exist or the OS cannot pin a process.
    """
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized() or not hasattr(os, "sched_setaffinity"):
        return False
    import jax

    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        jax.devices()
    finally:
        for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else [0]:
            try:  # every thread, XLA's new ones included, gets the cores back
                os.sched_setaffinity(int(tid), cores)
            except OSError:
                pass
    return True


def _message(name: str) -> str:
    return (
        f"pinnsight: interrupted by {name}; finished chunks are saved: run the same command "
        "again to resume (--restart starts over)"
    )


def _exit_now(name: str) -> None:
    if not _quiet[0]:
        interrupt.announce(_message(name))
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # pragma: no cover
        pass
    os._exit(EXIT_INTERRUPTED)


def _on_signal(name: str) -> None:
    if interrupt.requested():
        _exit_now(name)  # a second signal: no more waiting
    interrupt.request(name)
    if not interrupt.is_busy():
        _exit_now(name)
    timer = threading.Timer(GRACE_S, _exit_now, args=(name,))
    timer.daemon = True
    timer.start()


def _watch(fd: int, signals: set[int]) -> None:
    while True:
        try:
            data = os.read(fd, 64)
        except InterruptedError:  # pragma: no cover - retried by Python
            continue
        except OSError:  # pragma: no cover
            return
        for sig in data:
            if sig in signals:
                _on_signal(signal.Signals(sig).name)


def install_signal_watcher(*, quiet: bool = False) -> bool:
    """SIGINT/SIGTERM stop this process cleanly (module docstring); call it from the main
    thread. ``quiet``: print no line (worker processes). Returns False where it cannot be
    installed (not the main thread)."""
    if _installed[0]:
        _quiet[0] = quiet
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _quiet[0] = quiet
    signals = {int(signal.SIGINT), int(signal.SIGTERM)}
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for s in signals:  # the C-level handler writes the signal number to the pipe, whatever
        signal.signal(s, lambda signum, frame: None)  # the main thread is doing
    threading.Thread(target=_watch, args=(read_fd, signals), name="pinnsight-signals", daemon=True).start()
    _installed[0] = True
    return True


def die_with_parent(parent_pid: int) -> None:
    """Linux: SIGTERM to this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if os.getppid() != parent_pid:
        os._exit(EXIT_INTERRUPTED)
