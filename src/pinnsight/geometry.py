r"""Domains and the uniform samplers used for collocation points.

A `Box` is the axis-aligned set $\prod_i [lo_i, hi_i]$. An edge or face of a box is
itself a `Box` in which one coordinate is pinned ($lo_i = hi_i$), so the same
uniform sampler draws interior points, boundary points and initial-line points.
Time-dependent problems use a `Box` whose first coordinate is named ``"t"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Box"]


@dataclass(frozen=True)
class Box:
    r"""The box $\prod_{i=1}^d [lo_i, hi_i]$ with named coordinates.

    Args:
        lo: lower corner, length $d$.
        hi: upper corner, length $d$; ``hi[i] >= lo[i]``, equality pins coordinate ``i``.
        names: coordinate names for plots and messages (default ``x0, x1, ...``;
            ``("x", "y")`` for $d=2$).
    """

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        lo = tuple(float(v) for v in self.lo)
        hi = tuple(float(v) for v in self.hi)
        if len(lo) != len(hi) or not lo:
            raise ValueError(
                f"`lo` and `hi` must have the same non-zero length, got {len(lo)} and {len(hi)}."
            )
        for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
            if b < a:
                raise ValueError(f"`hi[{i}]` (={b}) must be >= `lo[{i}]` (={a}).")
        names = self.names
        if names is None:
            names = ("x", "y", "z")[: len(lo)] if len(lo) <= 3 else tuple(f"x{i}" for i in range(len(lo)))
        if len(names) != len(lo):
            raise ValueError(f"`names` has {len(names)} entries for a {len(lo)}-D box.")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "names", tuple(names))

    @property
    def dim(self) -> int:
        """The dimension $d$ of the points (pinned coordinates included)."""
        return len(self.lo)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` points drawn uniformly from the box, shape ``(n, d)``; jit-safe."""
        lo = jnp.asarray(self.lo)
        hi = jnp.asarray(self.hi)
        u = jax.random.uniform(key, (n, self.dim), dtype=lo.dtype)
        return lo[None, :] + (hi - lo)[None, :] * u

    def face(self, axis: int | str, side: str) -> Box:
        """The face where coordinate ``axis`` equals its ``"lo"`` or ``"hi"`` end."""
        i = self.names.index(axis) if isinstance(axis, str) else axis
        if side not in ("lo", "hi"):
            raise ValueError(f"`side` must be 'lo' or 'hi', got {side!r}.")
        v = self.lo[i] if side == "lo" else self.hi[i]
        lo = list(self.lo)
        hi = list(self.hi)
        lo[i] = hi[i] = v
        return Box(tuple(lo), tuple(hi), self.names)

    def grid(self, n: int | tuple[int, ...] = 100) -> tuple[np.ndarray, tuple[int, ...]]:
        """A tensor grid of ``linspace`` points including the boundary.

        Returns ``(points, shape)`` with points of shape ``(prod(shape), d)`` in
        ``indexing="ij"`` order, so ``values.reshape(shape)[i, j]`` sits at
        ``(linspace_0[i], linspace_1[j])``.
        """
        ns = (n,) * self.dim if isinstance(n, int) else tuple(n)
        axes = [np.linspace(a, b, k) for a, b, k in zip(self.lo, self.hi, ns, strict=True)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=-1), ns
