"""The run folder and its callback: files written so that nothing is lost when a run is killed.

A run folder holds ``config.json`` (first), ``metrics.csv`` (a row per chunk, exact values),
``state.eqx`` (the whole `pinnsight.train.TrainState`, rewritten atomically after chunks),
``model.eqx``, the recorders' files, and ``summary.json`` — always the **last** file
written: a folder without it is *unfinished*, and running the same command again resumes
it from ``state.eqx`` (rows of ``metrics.csv`` after the checkpoint's step are dropped).
While a process works in a folder it holds ``pinnsight.lock`` (`fcntl.flock`, with its
PID inside), so a second process is refused. ``--overwrite``/``--restart`` remove only the
files listed in `WRITTEN` and `FIGURES`, and only under a ``config.json`` that is a
pinnsight config.

Every file is read through a checking reader (`read_config`, `read_summary`,
`read_metrics`, `read_state`, `load_model`, ...): a truncated, empty or foreign file
raises `RunFileError`, one line naming the file and what is wrong.

Checkpoints use `equinox.tree_serialise_leaves`; to load one, rebuild the skeleton from
``config.json`` (`pinnsight.load_run` does this for the network).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..callbacks import Callback, FitContext

__all__ = [
    "RunFolder",
    "RunFolderCallback",
    "RunFileError",
    "FolderBusyError",
    "FolderLock",
    "RunStatus",
    "RUN_MARKERS",
    "WRITTEN",
    "FIGURES",
    "COMPLETE",
    "LOCK",
    "holds_run",
    "inspect_run",
    "open_run",
    "clear_run_files",
    "read_json",
    "read_config",
    "read_summary",
    "read_metrics",
    "read_state_header",
    "read_state",
    "load_model",
    "load_histograms",
    "read_stiffness",
    "expected_records",
    "normalised",
]

LOCK = "pinnsight.lock"
RUN_MARKERS = ("config.json", "metrics.csv", "summary.json", "model.eqx", "state.eqx")
WRITTEN = (
    "config.json",
    "metrics.csv",
    "model.eqx",
    "state.eqx",
    "summary.json",
    "histograms.npz",
    "stiffness.csv",
    "stages.json",
    "ntk.npz",
    "report.html",
    "report.md",
    LOCK,
)
"""The files pinnsight writes in a run folder (and may remove on ``--overwrite``)."""
FIGURES = (
    "fields.png",
    "fields_*.png",
    "errors.png",
    "losses.png",
    "lambdas.png",
    "imbalance.png",
    "imbalance_vs_C.png",
    "stiffness.png",
    "coefficients.png",
    "histograms_step*.png",
    "histograms_final.png",
    "histograms_M1_M2.png",
)
"""The figures pinnsight draws into a run folder (patterns)."""
COMPLETE = ("finished", "degraded")
"""Summary statuses of a run that reached its last step (reused, never retrained)."""

STATE_MAGIC = b"pinnsight-state 1\n"


class RunFileError(ValueError):
    """A run file is missing, truncated, empty or not pinnsight's: one line naming it."""


class FolderBusyError(OSError):
    """Another process holds the folder's lock."""


def holds_run(path: str | Path) -> bool:
    """True when ``path`` already contains the files of a training run."""
    p = Path(path)
    return p.is_dir() and any((p / m).exists() for m in RUN_MARKERS)


# ---------------------------------------------------------------------------------------
# the lock
# ---------------------------------------------------------------------------------------


class FolderLock:
    """An exclusive `fcntl.flock` on ``path/pinnsight.lock`` (the holder's PID inside),
    held from `acquire` to `release`; a second process gets `FolderBusyError`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fh = None
        self.made_file = False  # the lock file did not exist before

    def acquire(self) -> FolderLock:
        self.path.mkdir(parents=True, exist_ok=True)
        self.made_file = not (self.path / LOCK).exists()
        fh = open(self.path / LOCK, "a+")  # noqa: SIM115 - held until release
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            self._fh = fh
            return self
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise FolderBusyError(
                f"{self.path} is in use by another pinnsight process (PID {holder}); "
                "wait for it to finish, or stop it, then run this command again."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------------------------
# checked readers
# ---------------------------------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    """A JSON file, or `RunFileError` naming it (missing, empty, not JSON, not UTF-8)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(f"{p}: missing.") from None
    except UnicodeDecodeError:
        raise RunFileError(f"{p}: not a text file (not UTF-8).") from None
    except IsADirectoryError:
        raise RunFileError(f"{p}: is a folder, expected a JSON file.") from None
    if not text.strip():
        raise RunFileError(f"{p}: empty.")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise RunFileError(f"{p}: not valid JSON ({err}); truncated or not pinnsight's.") from None


def read_config(folder: str | Path):
    """``config.json`` of a run folder as a `RunConfig` (`RunFileError` if it is not one)."""
    from .config import RunConfig

    p = Path(folder) / "config.json"
    data = read_json(p)
    if not isinstance(data, dict):
        raise RunFileError(f"{p}: not a pinnsight config (a JSON {_kind(data)}, expected an object).")
    try:
        return RunConfig.from_dict(data)
    except Exception as err:  # noqa: BLE001 - any failure means a foreign or damaged config
        raise RunFileError(f"{p}: not a pinnsight config ({_one_line(err)}).") from None


_SUMMARY_TYPES = {
    "status": (str,),
    "steps": (int,),
    "final_error": (int, float, type(None)),
    "final_loss": (int, float, type(None)),
    "wall_time_s": (int, float),
    "steps_per_s": (int, float, type(None)),
    "final_lambda": (dict,),
}


def read_summary(folder: str | Path) -> dict[str, Any]:
    """``summary.json`` of a run folder, its fields type-checked (`RunFileError` otherwise)."""
    p = Path(folder) / "summary.json"
    data = read_json(p)
    if not isinstance(data, dict):
        raise RunFileError(f"{p}: not a run summary (a JSON {_kind(data)}, expected an object).")
    for key, types in _SUMMARY_TYPES.items():
        if key not in data:
            raise RunFileError(f"{p}: not a run summary (no {key!r}).")
        v = data[key]
        if not isinstance(v, types) or isinstance(v, bool):
            raise RunFileError(f"{p}: {key!r} is {v!r}, expected {' or '.join(t.__name__ for t in types)}.")
    return data


def _parse_metrics(p: Path, upto: int | None = None) -> tuple[list[str], list[str], list[dict[str, float]]]:
    """(header, raw lines, rows) of ``metrics.csv``; with ``upto``, the rows up to that step
    (later rows, a torn last line included, are left out)."""
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RunFileError(f"{p}: missing.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunFileError(f"{p}: not a text file (not UTF-8).") from None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise RunFileError(f"{p}: empty (no header row).")
    header = next(csv.reader([lines[0]]))
    if "step" not in header or len(set(header)) != len(header):
        raise RunFileError(f"{p}: not a pinnsight metrics file (header {lines[0].strip()[:60]!r}).")
    kept, rows = [lines[0]], []
    for i, line in enumerate(lines[1:], start=2):
        if upto is not None and rows and rows[-1]["step"] >= upto:
            break
        fields = next(csv.reader([line]), [])
        if not line.endswith("\n") or len(fields) != len(header):
            raise RunFileError(
                f"{p}: line {i} is truncated ({len(fields)} of {len(header)} fields"
                f"{'' if line.endswith(chr(10)) else ', no line end'})."
            )
        row = {}
        for k, v in zip(header, fields, strict=True):
            try:
                row[k] = float(v)
            except ValueError:
                raise RunFileError(f"{p}: line {i}, column {k!r}: {v[:30]!r} is not a number.") from None
        if rows and not row["step"] > rows[-1]["step"]:
            raise RunFileError(
                f"{p}: line {i}: step {row['step']:g} does not follow step {rows[-1]['step']:g}."
            )
        rows.append(row)
        kept.append(line)
    return header, kept, rows


def read_metrics(path: str | Path, summary: dict[str, Any] | None = None) -> dict[str, list[float]]:
    """``metrics.csv`` of a run folder as columns (`RunFileError` if damaged); with the run's
    ``summary``, its rows must reach the summary's last step."""
    p = Path(path)
    p = p / "metrics.csv" if p.is_dir() or not p.name.endswith(".csv") else p
    header, _, rows = _parse_metrics(p)
    if summary is not None and summary.get("steps") and (not rows or rows[-1]["step"] != summary["steps"]):
        last = f"ends at step {rows[-1]['step']:g}" if rows else "has no rows"
        raise RunFileError(
            f"{p}: {last}, but the run's summary.json says {summary['steps']} steps (truncated)."
        )
    if not rows:
        return {}
    return {k: [r[k] for r in rows] for k in header}


def read_state_header(folder: str | Path) -> dict[str, Any]:
    """The header of ``state.eqx`` (``step``, ``steps``, ``rows``), its length and hash checked."""
    p = Path(folder) / "state.eqx"
    header, _ = _read_state_file(p)
    return header


def _read_state_file(p: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RunFileError(f"{p}: missing.") from None
    if not raw:
        raise RunFileError(f"{p}: empty.")
    if not raw.startswith(STATE_MAGIC):
        raise RunFileError(f"{p}: not a pinnsight checkpoint (no {STATE_MAGIC.strip().decode()!r} header).")
    head, sep, payload = raw[len(STATE_MAGIC) :].partition(b"\n")
    try:
        header = json.loads(head.decode("utf-8")) if sep else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or not all(
        isinstance(header.get(k), int) for k in ("step", "steps", "rows", "bytes")
    ):
        raise RunFileError(f"{p}: damaged checkpoint header.")
    if len(payload) != header["bytes"]:
        raise RunFileError(f"{p}: truncated ({len(payload)} of {header['bytes']} bytes of state).")
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise RunFileError(f"{p}: damaged (checksum mismatch).")
    return header, payload


def read_state(folder: str | Path, skeleton: Any) -> tuple[Any, dict[str, Any]]:
    """``(state, header)`` of ``state.eqx``, its leaves loaded into ``skeleton`` (a pytree of
    arrays or `jax.ShapeDtypeStruct`, e.g. ``jax.eval_shape`` of `pinnsight.train.init_state`)."""
    p = Path(folder) / "state.eqx"
    header, payload = _read_state_file(p)

    def load(f, x):
        if isinstance(x, jax.Array | jax.ShapeDtypeStruct):
            try:
                a = jnp.load(f)
            except Exception as err:  # noqa: BLE001
                raise RunFileError(f"{p}: damaged ({_one_line(err)}).") from None
            if a.shape != x.shape or a.dtype != x.dtype:
                raise RunFileError(
                    f"{p}: a {a.dtype}{list(a.shape)} array where this config has "
                    f"{x.dtype}{list(x.shape)}: the checkpoint is not of this config."
                )
            return _with_weak_type(a, getattr(x, "weak_type", False))
        return eqx.default_deserialise_filter_spec(f, x)

    try:
        state = eqx.tree_deserialise_leaves(io.BytesIO(payload), skeleton, filter_spec=load)
    except RunFileError:
        raise
    except Exception as err:  # noqa: BLE001
        raise RunFileError(f"{p}: not a checkpoint of this config ({_one_line(err)}).") from None
    return state, header


def _with_weak_type(a: jax.Array, weak: bool) -> jax.Array:
    """``a`` with JAX's weak-type flag as the skeleton's (so the compiled step is reused)."""
    if not weak:
        return a
    try:
        from jax._src.lax.lax import _convert_element_type

        return _convert_element_type(a, a.dtype, weak_type=True)
    except Exception:  # noqa: BLE001 - fall back to a Python scalar (weak leaves are scalars)
        return jnp.asarray(a.item()) if a.ndim == 0 else a


def load_model(folder: str | Path, skeleton: Any) -> Any:
    """``model.eqx`` loaded into ``skeleton`` (`RunFileError` if truncated or not of this config)."""
    p = Path(folder) / "model.eqx"
    if not p.is_file():
        raise RunFileError(f"{p}: missing.")
    if p.stat().st_size == 0:
        raise RunFileError(f"{p}: empty.")

    def load(f, x):
        if isinstance(x, jax.Array):
            a = jnp.load(f)
            if a.shape != x.shape or a.dtype != x.dtype:
                raise RunFileError(
                    f"{p}: a {a.dtype}{list(a.shape)} array where this config's network has "
                    f"{x.dtype}{list(x.shape)}: not a model of this config."
                )
            return a
        return eqx.default_deserialise_filter_spec(f, x)

    try:
        with p.open("rb") as fh:
            net = eqx.tree_deserialise_leaves(fh, skeleton, filter_spec=load)
            if fh.read(1):
                raise RunFileError(f"{p}: longer than a model of this config (not pinnsight's?).")
    except RunFileError:
        raise
    except Exception as err:  # noqa: BLE001 - truncated files fail in numpy's reader
        raise RunFileError(f"{p}: truncated or not a model of this config ({_one_line(err)}).") from None
    return net


def expected_records(config) -> dict[str, list[int]]:
    """The steps a finished run of ``config`` recorded: ``{"histograms": [...], "stiffness": [...]}``."""
    d, steps = config.diagnostics, config.total_steps
    every = d.stiffness_every
    return {
        "histograms": sorted({int(s) for s in d.hist_steps if 0 <= s <= steps}),
        "stiffness": list(range(0, steps + 1, every)) if every else [],
    }


def _check_steps(p: Path, found, expected: list[int] | None) -> None:
    found = [int(s) for s in found]
    if expected is not None and found != expected:
        raise RunFileError(
            f"{p}: records steps {_short(found)} but the finished run records {_short(expected)} "
            "(truncated or not this run's)."
        )


def _short(steps: list[int]) -> str:
    return str(steps) if len(steps) <= 6 else f"[{steps[0]}, {steps[1]}, ..., {steps[-1]}] ({len(steps)})"


def load_histograms(
    folder: str | Path, expected_steps: list[int] | None = None
) -> dict[str, np.ndarray] | None:
    """``histograms.npz`` of a run folder as arrays (None if absent; `RunFileError` if damaged
    or, with ``expected_steps``, if it does not hold exactly those steps)."""
    p = Path(folder) / "histograms.npz"
    if not p.exists():
        if expected_steps:
            raise RunFileError(f"{p}: missing.")
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as err:  # noqa: BLE001 - zip/npy errors of a damaged file
        raise RunFileError(f"{p}: damaged ({_one_line(err)}).") from None
    need = {"steps", "terms", "log_edges"}
    if not need <= set(data) or not any(k.endswith("/counts") for k in data):
        raise RunFileError(f"{p}: not a pinnsight histograms file (missing {sorted(need - set(data))}).")
    n = len(data["steps"])
    if any(v.ndim and k != "terms" and len(v) != n for k, v in data.items() if not k.endswith("/size")):
        raise RunFileError(f"{p}: arrays of different lengths (damaged).")
    _check_steps(p, data["steps"], expected_steps)
    return data


def read_stiffness(
    folder: str | Path, expected_steps: list[int] | None = None
) -> dict[str, list[float]] | None:
    """``stiffness.csv`` of a run folder as columns (None if absent; `RunFileError` if damaged
    or, with ``expected_steps``, if its rows are not exactly those steps)."""
    p = Path(folder) / "stiffness.csv"
    if not p.exists():
        if expected_steps:
            raise RunFileError(f"{p}: missing.")
        return None
    header, _, rows = _parse_metrics(p)
    if "sigma_max" not in header or not rows:
        raise RunFileError(f"{p}: no sigma_max rows (empty or not pinnsight's).")
    _check_steps(p, [r["step"] for r in rows], expected_steps)
    return {k: [r[k] for r in rows] for k in header}


def _kind(data: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(data), "null" if data is None else type(data).__name__
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------------------
# what a folder holds; opening it for a run
# ---------------------------------------------------------------------------------------


def normalised(config) -> dict[str, Any]:
    """The tree with each kind's *effective* options and the effective layers, so that a
    config naming a default explicitly (as every 0.1 flat config does) equals the same run's
    tree that leaves it out."""
    tree = config.to_dict(resolved=True)
    for name, opts in tree.pop("resolved").items():
        tree[name]["options"] = opts
    tree["net"]["layers"] = tree["net"]["options"].pop("layers")
    return json.loads(json.dumps(tree, default=list))


@dataclass
class RunStatus:
    """What a folder holds for a config: ``kind`` is ``"new"`` (nothing yet), ``"done"``
    (``summary.json`` written) or ``"unfinished"`` (no summary; ``step`` from ``state.eqx``,
    None without a checkpoint); ``same_config`` compares its ``config.json`` with the config."""

    kind: str
    same_config: bool = True
    step: int | None = None
    steps: int | None = None
    summary: dict[str, Any] | None = None
    header: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.kind == "done" and (self.summary or {}).get("status") in COMPLETE


def inspect_run(path: str | Path, config=None) -> RunStatus:
    """Read (and check) what ``path`` holds; ``config`` (a `RunConfig`) to compare with.

    Raises:
        RunFileError: a damaged or foreign file.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FileExistsError(f"output path {p} exists and is not a folder.")
    if not holds_run(p):
        return RunStatus("new")
    if not (p / "config.json").exists():
        raise RunFileError(
            f"{p / 'config.json'}: missing, but {p} holds other run files: not a pinnsight run folder "
            "(nothing was changed); choose another --out."
        )
    saved = read_config(p)
    same = config is None or normalised(saved) == normalised(config)
    total = saved.total_steps  # run.steps, and the stages of a curriculum before it
    if (p / "summary.json").exists():
        return RunStatus("done", same, summary=read_summary(p), steps=total)
    if not (p / "state.eqx").exists():
        return RunStatus("unfinished", same, steps=total)
    header = read_state_header(p)
    if not 0 < header["step"] <= total:
        raise RunFileError(f"{p / 'state.eqx'}: step {header['step']} is outside 1..{total}.")
    if same:
        _, _, rows = _parse_metrics(p / "metrics.csv", upto=header["step"])
        _check_rows(p, rows, header)
    return RunStatus("unfinished", same, step=header["step"], steps=total, header=header)


def _check_rows(p: Path, rows: list[dict[str, float]], header: dict[str, Any]) -> None:
    if len(rows) != header["rows"] or (rows and rows[-1]["step"] != header["step"]):
        last = f"ends at step {rows[-1]['step']:g}" if rows else "has no rows"
        raise RunFileError(
            f"{p / 'metrics.csv'}: {last} with {len(rows)} rows, but the checkpoint is at step "
            f"{header['step']} after {header['rows']} rows; start over with --restart."
        )


def _matches(name: str) -> bool:
    base = name[: -len(".tmp")] if name.endswith(".tmp") else name
    base = base.replace(".tmp.", ".")
    return base in WRITTEN or any(fnmatch.fnmatchcase(base, pat) for pat in FIGURES)


def clear_run_files(path: str | Path, *, keep: tuple[str, ...] = (LOCK,)) -> list[Path]:
    """Remove the files pinnsight wrote in ``path`` (`WRITTEN`, `FIGURES`), only if its
    ``config.json`` is a pinnsight config; every other file stays. Returns what was removed."""
    p = Path(path)
    if not p.is_dir():
        return []
    if (p / "config.json").exists():
        read_config(p)  # a foreign config.json: refuse, remove nothing
    elif holds_run(p):
        raise RunFileError(
            f"{p / 'config.json'}: missing: {p} is not a pinnsight run folder, so nothing was removed."
        )
    removed = []
    for f in sorted(p.iterdir()):
        if f.is_file() and not f.is_symlink() and f.name not in keep and _matches(f.name):
            f.unlink()
            removed.append(f)
    return removed


class OpenedRun:
    """A run folder opened for training: locked, cleared or checked for resuming."""

    def __init__(self, folder: RunFolder, lock: FolderLock, status: RunStatus, created: bool):
        self.folder, self.lock, self.status, self.created = folder, lock, status, created
        self.history: dict[str, list[float]] | None = None
        self.resume_step: int | None = None

    def load_state(self, skeleton: Any) -> Any:
        """The checkpointed `TrainState`; trims ``metrics.csv`` to the checkpoint's rows."""
        p = self.folder.path
        state, header = read_state(p, skeleton)
        if int(np.asarray(state.step)) != header["step"]:
            raise RunFileError(f"{p / 'state.eqx'}: header step {header['step']} differs from its state's.")
        fields, lines, rows = _parse_metrics(p / "metrics.csv", upto=header["step"])
        _check_rows(p, rows, header)
        self.folder.rewrite_metrics(fields, lines)
        self.history = {k: [r[k] for r in rows] for k in fields}
        self.resume_step = header["step"]
        return state

    def close(self, failed: bool) -> None:
        """Release the lock; refused before anything was written, leave the folder as found."""
        self.lock.release()
        p = self.folder.path
        if not failed:
            return
        try:
            if self.lock.made_file:
                (p / LOCK).unlink()
            if self.created and not any(p.iterdir()):
                p.rmdir()
        except OSError:
            pass


class open_run:
    """``with open_run(path, config, overwrite=...) as opened:`` — lock the folder, then:
    ``overwrite`` clears pinnsight's files; an unfinished run of the same config is resumed
    (``opened.status.step``; call ``opened.load_state``), without a checkpoint started over;
    a finished run or another config's run is refused (`FileExistsError`)."""

    def __init__(self, path: str | Path, config, *, overwrite: bool = False):
        self.path, self.config, self.overwrite = Path(path), config, overwrite
        self.opened: OpenedRun | None = None

    def __enter__(self) -> OpenedRun:
        p = self.path
        if p.exists() and not p.is_dir():
            raise FileExistsError(f"output path {p} exists and is not a folder.")
        created = not p.exists()
        lock = FolderLock(p).acquire()
        try:
            for f in p.iterdir():  # half-written files of a killed process (we hold the lock)
                if f.is_file() and ".tmp" in f.name and _matches(f.name):
                    f.unlink()
            status = inspect_run(p, self.config) if not self.overwrite else None
            if self.overwrite:
                clear_run_files(p)
                status = RunStatus("new")
            elif status.kind == "done" and status.same_config:
                raise FileExistsError(
                    f"output folder {p} already holds a run; choose another folder with "
                    "--out, or pass --overwrite (overwrite=True) to replace it."
                )
            elif not status.same_config:
                what = "a run" if status.kind == "done" else "an unfinished run"
                raise FileExistsError(
                    f"output folder {p} already holds {what} with a different config; choose another "
                    "folder with --out, or pass --overwrite (or --restart) to replace it."
                )
            elif status.kind == "unfinished" and status.step is None:
                clear_run_files(p)  # killed before its first checkpoint: nothing to resume
                status = RunStatus("new")
        except BaseException:
            OpenedRun(RunFolder(p), lock, RunStatus("new"), created).close(failed=True)
            raise
        self.opened = OpenedRun(RunFolder(p), lock, status, created)
        if status.kind == "unfinished":
            self.opened.folder._fields = None  # set from the header when the metrics are trimmed
        return self.opened

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.opened is not None
        nothing_written = not (self.opened.folder.path / "config.json").exists()
        self.opened.close(failed=exc_type is not None and nothing_written)


# ---------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------


class RunFolder:
    """Writes the files of one run into ``path`` (each file replaced atomically, except the
    rows appended to ``metrics.csv``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fields: list[str] | None = None

    @classmethod
    def create(cls, path: str | Path, *, overwrite: bool = False) -> RunFolder:
        """The folder ``path`` (made if missing); a folder holding a run is refused unless
        ``overwrite``, which removes only pinnsight's own files (`clear_run_files`)."""
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise FileExistsError(f"output path {p} exists and is not a folder.")
        if holds_run(p):
            if not overwrite:
                raise FileExistsError(
                    f"output folder {p} already holds a run; choose another folder with "
                    "--out, or pass --overwrite (overwrite=True) to replace it."
                )
            clear_run_files(p)
        p.mkdir(parents=True, exist_ok=True)
        return cls(p)

    def _replace(self, name: str, write) -> None:
        tmp = self.path / (name + ".tmp")
        write(tmp)
        os.replace(tmp, self.path / name)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=2, default=_jsonable) + "\n"
        self._replace(name, lambda t: t.write_text(text))

    def append_metrics(self, row: dict[str, float]) -> None:
        """One row, values written exactly (``repr``), so a resumed run's history is exact."""
        f = self.path / "metrics.csv"
        if self._fields is None:
            self._fields = list(row)
            with f.open("w", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerow(self._fields)
        with f.open("a", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow([_exact(k, row[k]) for k in self._fields])

    def rewrite_metrics(self, fields: list[str], lines: list[str]) -> None:
        """``metrics.csv`` cut back to ``lines`` (header + rows) when resuming."""
        self._fields = list(fields)
        self._replace("metrics.csv", lambda t: t.write_text("".join(lines)))

    def save_model(self, net: eqx.Module) -> None:
        self._replace("model.eqx", lambda t: eqx.tree_serialise_leaves(t, net))

    def save_state(self, state: Any, *, step: int, steps: int, rows: int) -> None:
        """``state.eqx``: a header line (step, steps, rows, length, sha256) and the leaves."""
        buf = io.BytesIO()
        eqx.tree_serialise_leaves(buf, state)
        payload = buf.getvalue()
        header = {
            "step": int(step),
            "steps": int(steps),
            "rows": int(rows),
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        blob = STATE_MAGIC + json.dumps(header).encode() + b"\n" + payload
        self._replace("state.eqx", lambda t: t.write_bytes(blob))


def _exact(name: str, v: float) -> str:
    if name == "step":
        return str(int(v))
    v = float(v)
    return repr(v) if math.isfinite(v) else str(v)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


class RunFolderCallback(Callback):
    """Writes a run folder while `pinnsight.fit` trains: ``config.json`` first, then per chunk
    a metrics row and the whole training state (``state.eqx``, at most every
    ``state_every_s`` seconds), the network every ``checkpoint_every`` steps, and at the end
    the network, the state and ``summary.json`` — put this callback last, so the summary is
    the last file written. An interrupted run gets its state and network but no summary
    (it is unfinished, and resumable). ``write_summary=False`` (a curriculum's stage before
    the last) writes ``summary.json`` only if the stage diverged."""

    def __init__(
        self,
        folder: RunFolder,
        config: dict[str, Any],
        checkpoint_every: int = 5000,
        state_every_s: float = 0.25,
        write_summary: bool = True,
    ):
        self.folder = folder
        self.write_summary = bool(write_summary)
        self.config = config
        self.checkpoint_every = int(checkpoint_every)
        self.state_every_s = float(state_every_s)
        self._last = 0
        self._rows = 0
        self._saved_step = -1
        self._saved_at = 0.0

    def on_start(self, ctx: FitContext) -> None:
        if not (self.folder.path / "config.json").exists():
            self.folder.write_json("config.json", self.config)
        self._last = ctx.done
        self._saved_step = ctx.done if ctx.done > 0 else -1  # resumed: that state is on disk
        self._saved_at = time.monotonic()
        if self.folder._fields is None and (self.folder.path / "metrics.csv").exists() and ctx.done > 0:
            header, _, rows = _parse_metrics(self.folder.path / "metrics.csv", upto=ctx.done)
            self.folder._fields, self._rows = header, len(rows)
        elif ctx.done > 0:
            self._rows = _count_rows(self.folder.path / "metrics.csv")

    def _save_state(self, ctx: FitContext) -> None:
        self.folder.save_state(ctx.state, step=ctx.done, steps=ctx.steps, rows=self._rows)
        self._saved_step, self._saved_at = ctx.done, time.monotonic()

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        self.folder.append_metrics(row)
        self._rows += 1
        length = ctx.done - self._last
        self._last = ctx.done
        if self.checkpoint_every and ctx.done % self.checkpoint_every < length:
            self.folder.save_model(ctx.net)
        if time.monotonic() - self._saved_at >= self.state_every_s or ctx.done >= ctx.steps:
            self._save_state(ctx)

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        self.folder.save_model(ctx.net)
        if ctx.done > 0 and self._saved_step != ctx.done:
            self._save_state(ctx)
        status = summary.get("status")
        if status != "interrupted" and (self.write_summary or status == "diverged"):
            self.folder.write_json("summary.json", summary)  # the last file of the run


def _count_rows(p: Path) -> int:
    try:
        return max(0, sum(1 for _ in p.open()) - 1)
    except OSError:
        return 0
