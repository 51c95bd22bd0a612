"""The ``pinnsight`` command's first lines: a stop signal during its imports exits at once.

Imported first by ``pinnsight/__init__.py``. In the ``pinnsight`` executable (and only
there) SIGINT/SIGTERM exit with status 130 and one line while the libraries load (nothing
has been written yet); `pinnsight.cli.main` then installs the real watcher
(`pinnsight.experiments.process.install_signal_watcher`). Elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _exit(signum, frame) -> None:  # pragma: no cover - exercised in subprocesses
    name = signal.Signals(signum).name
    os.write(2, f"pinnsight: interrupted by {name} while starting; nothing was written\n".encode())
    os._exit(130)


def _is_command() -> bool:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return argv0 in ("pinnsight", "pinnsight.exe") and threading.current_thread() is threading.main_thread()


if _is_command():
    for _sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_sig, _exit)
