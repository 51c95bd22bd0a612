"""Stop requests: how SIGINT/SIGTERM reach the training loop without tearing a file.

`fit` runs its compiled steps in calls of at most `SUBCHUNK_SECONDS` and asks
`requested` between them; when a stop was requested it raises `Interrupted` (a
`KeyboardInterrupt`), so the callbacks' ``on_end`` sees the last finished chunk (the run
folder checkpoints it). Who requests the stop is the application's business: the
``pinnsight`` command and its worker processes install a signal watcher
(`pinnsight.experiments.process.install_signal_watcher`); a plain Python session keeps
Python's own Ctrl-C (a `KeyboardInterrupt` when the current compiled call returns).
"""

from __future__ import annotations

import sys
import threading

__all__ = ["Interrupted", "request", "requested", "reason", "clear", "check", "busy", "announce"]

SUBCHUNK_SECONDS = 0.5
"""Target wall time of one compiled call of `fit`: a stop request waits at most about this."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on request (SIGINT/SIGTERM) at a safe point."""


_stop = threading.Event()
_reason: list[str] = []
_busy = threading.local()
_busy_count = [0]
_lock = threading.Lock()
_announced = [False]


def request(why: str = "SIGINT") -> None:
    """Ask the running loop (if any) to stop at its next safe point."""
    if not _stop.is_set():
        _reason.append(why)
    _stop.set()


def requested() -> bool:
    return _stop.is_set()


def reason() -> str:
    return _reason[0] if _reason else "interrupt"


def clear() -> None:
    _stop.clear()
    _reason.clear()
    _announced[0] = False


def check() -> None:
    """Raise `Interrupted` if a stop was requested."""
    if _stop.is_set():
        raise Interrupted(reason())


class busy:
    """Context manager: work that stops by itself at safe points (a watcher gives it a grace period)."""

    def __enter__(self):
        with _lock:
            _busy_count[0] += 1
        return self

    def __exit__(self, *exc):
        with _lock:
            _busy_count[0] -= 1
        return False


def is_busy() -> bool:
    return _busy_count[0] > 0


def announce(line: str) -> None:
    """Print the one line that says why the process stops (once per process)."""
    with _lock:
        if _announced[0]:
            return
        _announced[0] = True
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass
