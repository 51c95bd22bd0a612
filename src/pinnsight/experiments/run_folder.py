"""The run folder (``config.json``, ``metrics.csv``, ``model.eqx``, ``summary.json``) and its callback.

Checkpoints use `equinox.tree_serialise_leaves`; to load one, rebuild the network
skeleton from ``config.json`` (`pinnsight.load_run` does this).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import equinox as eqx

from ..callbacks import Callback, FitContext

__all__ = ["RunFolder", "RunFolderCallback", "RUN_MARKERS", "holds_run", "read_json", "read_metrics"]

RUN_MARKERS = ("config.json", "metrics.csv", "summary.json", "model.eqx")


def holds_run(path: str | Path) -> bool:
    """True when ``path`` already contains the files of a training run."""
    p = Path(path)
    return p.is_dir() and any((p / m).exists() for m in RUN_MARKERS)


class RunFolder:
    """Writes the files of one run into ``path``."""

    def __init__(self, path: Path):
        self.path = path
        self._fields: list[str] | None = None

    @classmethod
    def create(cls, path: str | Path, *, overwrite: bool = False) -> RunFolder:
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise FileExistsError(f"output path {p} exists and is not a folder.")
        if holds_run(p):
            if not overwrite:
                raise FileExistsError(
                    f"output folder {p} already holds a run; choose another folder with "
                    "--out, or pass --overwrite (overwrite=True) to replace it."
                )
            shutil.rmtree(p)
        p.mkdir(parents=True, exist_ok=True)
        return cls(p)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.path / (name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, self.path / name)

    def append_metrics(self, row: dict[str, float]) -> None:
        f = self.path / "metrics.csv"
        if self._fields is None:
            self._fields = list(row)
            with f.open("w", newline="") as fh:
                csv.writer(fh).writerow(self._fields)
        with f.open("a", newline="") as fh:
            csv.writer(fh).writerow([f"{row[k]:.8g}" for k in self._fields])

    def save_model(self, net: eqx.Module) -> None:
        tmp = self.path / "model.eqx.tmp"
        eqx.tree_serialise_leaves(tmp, net)
        os.replace(tmp, self.path / "model.eqx")


def _jsonable(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic | np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def read_metrics(path: str | Path) -> dict[str, list[float]]:
    """``metrics.csv`` of a run folder as columns."""
    with (Path(path) / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def read_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


class RunFolderCallback(Callback):
    """Writes a run folder while `pinnsight.fit` trains: ``config.json`` first, a metrics row
    per chunk, the network every ``checkpoint_every`` steps, and at the end the final (or
    last good) network and ``summary.json`` (put this callback last, so the summary is the
    last file written)."""

    def __init__(self, folder: RunFolder, config: dict[str, Any], checkpoint_every: int = 5000):
        self.folder = folder
        self.config = config
        self.checkpoint_every = int(checkpoint_every)
        self._last = 0

    def on_start(self, ctx: FitContext) -> None:
        self.folder.write_json("config.json", self.config)
        self._last = ctx.done

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        self.folder.append_metrics(row)
        length = ctx.done - self._last
        self._last = ctx.done
        if self.checkpoint_every and ctx.done % self.checkpoint_every < length:
            self.folder.save_model(ctx.net)

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        self.folder.save_model(ctx.net)
        self.folder.write_json("summary.json", summary)
