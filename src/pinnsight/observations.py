r"""Measurements as a constraint term: $\mathcal{L}_{data} = \frac1n\sum_k\|u(x_k) - y_k\|^2$.

`Observations` is a `Condition` whose points are rows of a fixed data set. Each row
carries the point and its measured values, ``[x_1..x_d, y_1..y_k]`` (shape ``(d + k,)``):
the condition's sampler draws rows, and its misfit splits a row into $x$ and $y$ and
returns $u(x) - y$. Everything else — the weight group (its own, ``"data"`` by default),
every balancer, the NTK diagonals, histograms and the imbalance ratio, the per-term batch
size — treats it as any other term.

```python
obs = ps.Observations.from_csv("data.csv", inputs=("t", "x"), outputs=("u",))
problem = ps.Problem(..., conditions={"data": obs})
```

Every step draws ``batch_size`` rows uniformly *with replacement* (an unbiased estimate of
the mean over the set, O(n) whatever the size of the set); ``whole=True`` uses every row
every step instead (the batch size is then ignored). The data set is a constant of the
compiled step, so it should fit in memory comfortably (millions of rows are fine).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .geometry import Box
from .problem import Condition

__all__ = ["Observations"]


class Observations(Condition):
    r"""Measured values ``values`` of the observable at fixed ``points``: the term $u(x_k) - y_k$.

    Args:
        points (array-like): ``(N, d)`` points inside the problem's domain.
        values (array-like): ``(N, k)`` (or ``(N,)``) measured values there; finite.
        observe: ``observe(u, x)`` -> the ``k`` observed quantities at one point (default:
            the network output ``u(x)`` itself).
        group: the loss-weight group (default ``"data"``).
        whole: use every row every step instead of a mini-batch of rows.
        label: how messages name the data set (a file name, say).

    Raises:
        ValueError: points and values of different lengths, a non-2-D array, an empty set or
            non-finite numbers; points outside the domain are refused when the `Problem` is made.
    """

    def __init__(
        self,
        points,
        values,
        *,
        observe: Callable | None = None,
        group: str | None = "data",
        whole: bool = False,
        label: str = "observations",
    ):
        pts = np.asarray(points, dtype=np.float64)
        vals = np.asarray(values, dtype=np.float64)
        pts = pts[:, None] if pts.ndim == 1 else pts
        vals = vals[:, None] if vals.ndim == 1 else vals
        if pts.ndim != 2 or vals.ndim != 2:
            raise ValueError(
                f"{label}: points must be (N, d) and values (N, k), got shapes {pts.shape} and {vals.shape}."
            )
        if pts.shape[0] != vals.shape[0]:
            raise ValueError(
                f"{label}: {pts.shape[0]} points but {vals.shape[0]} values (shape mismatch: points "
                f"{pts.shape}, values {vals.shape}); give one row of values per point."
            )
        if pts.shape[0] == 0 or vals.shape[1] == 0:
            raise ValueError(f"{label}: no observations (points {pts.shape}, values {vals.shape}).")
        for what, arr in (("points", pts), ("values", vals)):
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                first = int(np.argmax(bad))
                raise ValueError(
                    f"{label}: {int(bad.sum())} row(s) of {what} hold NaN or inf (first: row {first}, "
                    f"{arr[first].tolist()}); drop or fill them."
                )
        d, k = pts.shape[1], vals.shape[1]
        rows = np.concatenate([pts, vals], axis=1)

        def draw(key: jax.Array, n: int) -> jax.Array:
            data = jnp.asarray(rows, dtype=jnp.result_type(float))
            if whole:
                return data
            return data[jax.random.randint(key, (n,), 0, rows.shape[0])]

        def misfit(u, row: jax.Array) -> jax.Array:
            x, y = row[:d], row[d:]
            pred = jnp.atleast_1d(u(x) if observe is None else observe(u, x))
            if pred.shape != (k,):
                raise ValueError(
                    f"{label}: the observable at one point has shape {pred.shape}, the data have "
                    f"{k} value column(s); pass observe=... selecting the observed quantities."
                )
            return pred - y

        super().__init__(where=draw, misfit=misfit, group=group)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "whole", bool(whole))
        object.__setattr__(self, "label", label)

    def __repr__(self) -> str:
        return (
            f"Observations({self.label!r}, {len(self.points)} points of dim {self.points.shape[1]}, "
            f"{self.values.shape[1]} value(s) each, group={self.group!r}, whole={self.whole})"
        )

    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return self is other

    def __len__(self) -> int:
        return len(self.points)

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, points, values, **kwargs) -> Observations:
        """Observations from arrays ``points (N, d)`` and ``values (N, k)`` (keywords as the class)."""
        return cls(points, values, **kwargs)

    @classmethod
    def from_csv(
        cls, path: str | Path, inputs: Sequence[str], outputs: Sequence[str], **kwargs
    ) -> Observations:
        """Observations from a CSV file with a header row naming its columns.

        ``inputs`` name the point's coordinates in the domain's order, ``outputs`` the
        measured columns, e.g. ``from_csv("u.csv", inputs=("t", "x"), outputs=("u",))``;
        other columns are ignored. Empty cells read as NaN (and are refused).
        """
        p = Path(path)
        with p.open(newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            cells = [row for row in reader if any(c.strip() for c in row)]
        cols = _columns(header, inputs, outputs, p.name)
        data = np.full((len(cells), len(header)), np.nan)
        for i, row in enumerate(cells):
            if len(row) != len(header):
                raise ValueError(f"{p.name}: line {i + 2} has {len(row)} cells, the header {len(header)}.")
            for j, c in enumerate(row):
                try:
                    data[i, j] = float(c) if c.strip() else np.nan
                except ValueError:
                    raise ValueError(
                        f"{p.name}: line {i + 2}, column {header[j]!r}: {c!r} is not a number."
                    ) from None
        kwargs.setdefault("label", p.name)
        return cls(data[:, cols[0]], data[:, cols[1]], **kwargs)

    @classmethod
    def from_npz(
        cls, path: str | Path, inputs: Sequence[str], outputs: Sequence[str], **kwargs
    ) -> Observations:
        """Observations from a ``.npz`` file holding one array per named column (length N)."""
        p = Path(path)
        with np.load(p) as f:
            cols = {n: np.ravel(f[n]) for n in _names_checked(list(f.files), inputs, outputs, p.name)}
        lengths = {n: len(v) for n, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{p.name}: columns of different lengths {lengths}; each must hold N values.")
        kwargs.setdefault("label", p.name)
        pts = np.stack([cols[n] for n in inputs], axis=-1)
        return cls(pts, np.stack([cols[n] for n in outputs], axis=-1), **kwargs)

    # -- checks ---------------------------------------------------------------------------
    def check_domain(self, domain: Box, name: str) -> None:
        """Refuse points of the wrong dimension or outside ``domain`` (one line, first offender)."""
        pts = self.points
        if pts.shape[1] != domain.dim:
            raise ValueError(
                f"condition {name!r} ({self.label}): points have {pts.shape[1]} coordinate(s), the domain "
                f"{domain.dim} ({', '.join(domain.names)})."
            )
        lo, hi = np.asarray(domain.lo), np.asarray(domain.hi)
        tol = 1e-9 * np.maximum(1.0, np.abs(hi - lo))
        out = ((pts < lo - tol) | (pts > hi + tol)).any(axis=1)
        if out.any():
            i = int(np.argmax(out))
            box = " x ".join(f"[{a:g}, {b:g}]" for a, b in zip(lo, hi, strict=True))
            coords = ", ".join(f"{n}={v:g}" for n, v in zip(domain.names, pts[i], strict=True))
            raise ValueError(
                f"condition {name!r} ({self.label}): {int(out.sum())} point(s) outside the domain {box} "
                f"(first: row {i}, {coords})."
            )


def _columns(header: Sequence[str], inputs: Sequence[str], outputs: Sequence[str], label: str):
    """Indices of the ``inputs`` and ``outputs`` columns in ``header``, or a clear error."""
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise ValueError(f"{label}: `inputs` and `outputs` are sequences of column names, e.g. ('t', 'x').")
    if not inputs or not outputs:
        raise ValueError(f"{label}: name at least one input and one output column.")
    unknown = [n for n in (*inputs, *outputs) if n not in header]
    if unknown:
        raise ValueError(
            f"{label}: no column {', '.join(repr(n) for n in unknown)}; "
            f"columns: {', '.join(header) or 'none'}."
        )
    return [header.index(n) for n in inputs], [header.index(n) for n in outputs]


def _names_checked(names: Sequence[str], inputs, outputs, label: str) -> list[str]:
    _columns(names, inputs, outputs, label)
    return list(dict.fromkeys((*inputs, *outputs)))
