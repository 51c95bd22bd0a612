"""Will it fit? Memory estimates made before anything big is allocated.

`fit` compiles its training step ahead of time and reads XLA's own account of the
step's buffers (`jax.stages.Compiled.memory_analysis`: arguments + outputs + temporaries
- aliased); where a backend gives none it falls back to a formula (points x widths x
derivative passes x bytes). `check` compares the estimate with the memory the machine
has free now (``MemAvailable`` of /proc/meminfo, else `os.sysconf`; on a GPU the device's
free memory) and refuses with both numbers. The cavity's finite-difference reference is
estimated the same way before it is solved (`pinnsight.reference.cavity`).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["MemoryEstimateError", "available_bytes", "compiled_bytes", "check", "human"]

HEADROOM = 0.9
"""Fraction of the available memory a run may plan to use."""


class MemoryEstimateError(ValueError):
    """The estimated peak memory exceeds what the machine has available."""


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _host_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def available_bytes(device: Any = None) -> int | None:
    """Free memory where ``device`` computes (host RAM for the CPU); None if unknown."""
    if device is not None and getattr(device, "platform", "cpu") != "cpu":
        try:
            stats = device.memory_stats() or {}
            limit = stats.get("bytes_limit")
            if limit is not None:
                return int(limit) - int(stats.get("bytes_in_use", 0))
        except Exception:  # noqa: BLE001 - backends without stats
            return None
    return _host_available()


def compiled_bytes(compiled: Any) -> int | None:
    """Peak bytes of an XLA executable by its own memory analysis (None where unavailable)."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None
    if m is None:
        return None
    total = (
        getattr(m, "argument_size_in_bytes", 0)
        + getattr(m, "output_size_in_bytes", 0)
        + getattr(m, "temp_size_in_bytes", 0)
        - getattr(m, "alias_size_in_bytes", 0)
    )
    return int(total) if total > 0 else None


def check(estimate: int | None, what: str, hint: str, device: Any = None) -> None:
    """Refuse (`MemoryEstimateError`) when ``estimate`` bytes will not fit; ``what`` names the
    computation, ``hint`` says which setting to lower."""
    if estimate is None:
        return
    free = available_bytes(device)
    if free is None or estimate <= HEADROOM * free:
        return
    where = "on this machine" if device is None or device.platform == "cpu" else f"on {device}"
    raise MemoryEstimateError(
        f"{what} needs about {human(estimate)} but only {human(free)} is available {where}; {hint}."
    )
