r"""`Problem`: a PDE written as plain functions of one point.

The PINN loss of PAPER §1 (Wang, Teng & Perdikaris 2021, eq. 2.7) is

$$ \mathcal{L}(\theta) = \mathcal{L}_r(\theta) + \sum_i \lambda_i \mathcal{L}_i(\theta),
\qquad \mathcal{L}_r = \frac{1}{N_r}\sum_{k} \|r_\theta(x_k)\|^2, \quad
\mathcal{L}_i = \frac{1}{N_i}\sum_{k} \|m_i(u_\theta, x_k)\|^2 , $$

where $r$ is the PDE residual and each $m_i$ is the misfit of a constraint
(a Dirichlet, initial or any other condition). A `Problem` holds $r$ and the named
$m_i$ as plain Python functions of a point function ``u`` and one point ``x`` of
shape ``(d,)``; pinnsight vmaps them over the sampled points. For a network with one
output ``u(x)`` returns a scalar; with several outputs it returns a vector ``(m,)``.

Constraints are grouped for the loss weights: all constraints in one ``group``
share one $\lambda$ (Helmholtz: the four edges, one $\lambda$).

An inverse problem declares unknown ``coefficients`` of the PDE (`Coefficient`); its
residual is then ``residual(u, x, c)`` with ``c = {name: value}``, and the coefficients
train with the network (`pinnsight.coefficients`). Measurements enter as a constraint
term, `pinnsight.Observations`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .coefficients import Coefficient, WithCoefficients
from .geometry import Box

__all__ = ["Condition", "Problem", "Reference"]

PointFn = Callable[[jax.Array], jax.Array]
Sampler = Callable[[jax.Array, int], jax.Array]


@dataclass(frozen=True)
class Condition:
    r"""One constraint term $m(u, x) = 0$ for $x$ drawn from ``where``.

    Args:
        where: a `Box` (its uniform sampler is used) or any function ``(key, n) -> (n, p)``;
            a point is usually ``(d,)``, but may carry more (`Observations`: ``(d + k,)``,
            the point and its measured values); ``misfit`` receives one such row.
        misfit: ``misfit(u, x)`` returning a scalar or a vector whose squared norm is
            averaged over the points, e.g. ``lambda u, x: u(x) - g(x)`` for Dirichlet data.
        group: the loss-weight group; defaults to the condition's own name.
    """

    where: Box | Sampler
    misfit: Callable[[PointFn, jax.Array], jax.Array]
    group: str | None = None

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` points for this condition, shape ``(n, p)`` (``p = d`` for a `Box`)."""
        if isinstance(self.where, Box):
            return self.where.sample(key, n)
        return self.where(key, n)

    def point_shape(self) -> tuple[int, ...]:
        """The shape of one of this condition's points (what ``misfit`` receives)."""
        out = jax.eval_shape(lambda k: self.sample(k, 1), jax.random.PRNGKey(0))
        return tuple(out.shape[1:])

    def check_domain(self, domain: Box, name: str) -> None:
        """Raise a ValueError when this condition does not fit ``domain`` (checked by `Problem`)."""


@dataclass(frozen=True)
class Reference:
    """Reference values of the observable on a set of points.

    ``points`` has shape ``(N, d)``, ``values`` shape ``(N, k)``; ``shape`` is the grid
    shape (for plots) when the points form a tensor grid in ``indexing="ij"`` order.
    """

    points: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...] | None = None
    label: str = "reference"

    @classmethod
    def on_grid(
        cls, axes: Sequence[np.ndarray], values_fn: Callable[..., np.ndarray], label: str = "reference"
    ) -> Reference:
        """Values of ``values_fn(*coordinate_arrays)`` on the tensor grid of ``axes``
        (``indexing="ij"``); ``values_fn`` returns shape ``grid`` or ``grid + (k,)``."""
        mesh = np.meshgrid(*axes, indexing="ij")
        shape = tuple(len(a) for a in axes)
        vals = np.asarray(values_fn(*mesh)).reshape(int(np.prod(shape)), -1)
        pts = np.stack([m.ravel() for m in mesh], axis=-1)
        return cls(pts, vals, shape, label)


@dataclass(frozen=True)
class Problem:
    r"""A PDE problem for a PINN.

    **Main arguments:**

    - ``name``: short name (used in folders and reports).
    - ``domain``: the `Box` where residual points are drawn uniformly.
    - ``residual``: ``residual(u, x)`` $= r(x)$, scalar or vector; zero for the solution.
    - ``conditions``: ``{name: Condition}``, the constraint terms (`Observations` included).
    - ``coefficients``: ``{name: Coefficient}``, unknown PDE coefficients trained with the
      network; the residual is then ``residual(u, x, c)`` with ``c[name]`` a scalar.

    **Other arguments:**

    - ``exact``: exact solution ``exact(x) -> (k,)`` of the observable, if known.
    - ``reference``: a zero-argument function returning a `Reference` (gridded data,
      e.g. from a classical solver); used when ``exact`` is not given.
    - ``observable``: ``observable(u, x) -> (k,)``, the quantity compared with the
      reference (default: the network output itself).
    - ``output_dim``: number of network outputs $m$ (default 1).
    - ``eval_resolution``: points per axis of the evaluation grid (default 100).
    - ``params``: the problem's parameters, recorded in configs and reports.
    """

    name: str
    domain: Box
    residual: Callable[[PointFn, jax.Array], jax.Array]
    conditions: Mapping[str, Condition]
    exact: Callable[[jax.Array], jax.Array] | None = None
    reference: Callable[[], Reference] | None = None
    observable: Callable[[PointFn, jax.Array], jax.Array] | None = None
    output_dim: int = 1
    eval_resolution: int = 100
    params: Mapping[str, Any] = field(default_factory=dict)
    coefficients: Mapping[str, Coefficient] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.residual):
            raise TypeError("`residual` must be a function residual(u, x).")
        if "residual" in self.conditions:
            raise ValueError("'residual' is reserved for the PDE residual; rename that condition.")
        for cname, cond in self.conditions.items():
            if not isinstance(cond, Condition):
                raise TypeError(
                    f"condition {cname!r} must be a pinnsight.Condition, got {type(cond).__name__}."
                )
            cond.check_domain(self.domain, cname)
        for k, coef in self.coefficients.items():
            if not isinstance(coef, Coefficient):
                raise TypeError(
                    f"coefficient {k!r} must be a pinnsight.Coefficient, got {type(coef).__name__}."
                )
            if not (isinstance(k, str) and k.isidentifier()):
                raise ValueError(
                    f"coefficient names must be identifiers (they name metrics columns), got {k!r}."
                )
        if self.exact is None and self.reference is None:
            raise ValueError(f"problem {self.name!r} needs `exact` or `reference` to measure the error.")

    # -- structure --------------------------------------------------------------------
    @property
    def groups(self) -> tuple[str, ...]:
        """The loss-weight groups, in the order the conditions declare them."""
        out: list[str] = []
        for cname, cond in self.conditions.items():
            g = cond.group or cname
            if g not in out:
                out.append(g)
        return tuple(out)

    def group_of(self, condition: str) -> str:
        """The weight group of ``condition``."""
        return self.conditions[condition].group or condition

    def members(self, group: str) -> tuple[str, ...]:
        """The conditions of weight group ``group``, in declaration order."""
        return tuple(c for c in self.conditions if self.group_of(c) == group)

    def point_function(self, net: Callable[[jax.Array], jax.Array]) -> PointFn:
        """The network as the ``u`` handed to residuals: scalar when ``output_dim == 1``."""
        if self.output_dim == 1:
            return lambda x: net(x)[0]
        return net

    def coefficient_values(self, net) -> dict[str, jax.Array]:
        """The coefficients ``{name: value}`` carried by ``net`` (``{}`` for a forward problem)."""
        if not self.coefficients:
            return {}
        if not isinstance(net, WithCoefficients):
            raise TypeError(
                f"problem {self.name!r} has trainable coefficients {sorted(self.coefficients)}: wrap the "
                "network with pinnsight.coefficients.attach_coefficients(problem.coefficients, net) "
                "(fit does this)."
            )
        return net.coefficients()

    def residual_function(self, net) -> Callable[[jax.Array], jax.Array]:
        """``x -> r(x)`` as a 1-D vector for ``net`` (with its coefficients, if any)."""
        u = self.point_function(net)
        if not self.coefficients:
            return lambda x: jnp.atleast_1d(self.residual(u, x))
        c = self.coefficient_values(net)
        return lambda x: jnp.atleast_1d(self.residual(u, x, c))

    # -- losses -----------------------------------------------------------------------
    def residuals(self, net, points: jax.Array) -> jax.Array:
        """The residual $r(x_k)$ at ``points``, shape ``(N, k)``."""
        return jax.vmap(self.residual_function(net))(points)

    def residual_loss(self, net, points: jax.Array) -> jax.Array:
        r"""$\mathcal{L}_r = \mathrm{mean}_k \|r(x_k)\|^2$ over ``points``."""
        return jnp.mean(jnp.sum(self.residuals(net, points) ** 2, axis=-1))

    def condition_loss(self, name: str, net, points: jax.Array) -> jax.Array:
        r"""$\mathcal{L}_i = \mathrm{mean}_k \|m_i(u, x_k)\|^2$ over ``points``."""
        u = self.point_function(net)
        misfit = self.conditions[name].misfit
        m = jax.vmap(lambda x: jnp.atleast_1d(misfit(u, x)))(points)
        return jnp.mean(jnp.sum(m**2, axis=-1))

    # -- evaluation -------------------------------------------------------------------
    def observe(self, net, points: jax.Array) -> jax.Array:
        """The observable at ``points``, shape ``(N, k)``."""
        if self.observable is None:
            return jax.vmap(net)(points)
        u = self.point_function(net)
        return jax.vmap(lambda x: jnp.atleast_1d(self.observable(u, x)))(points)

    @functools.cached_property
    def reference_data(self) -> Reference:
        """The reference on the evaluation grid (exact solution) or the given data."""
        if self.exact is not None:
            pts, shape = self.domain.grid(self.eval_resolution)
            vals = np.asarray(jax.vmap(lambda x: jnp.atleast_1d(self.exact(x)))(pts))
            return Reference(pts, vals, shape, label="exact")
        ref = self.reference()
        if not isinstance(ref, Reference):
            raise TypeError("`reference()` must return a pinnsight.Reference.")
        return ref

    def check(self, net) -> None:
        """Trace residual and misfits once and raise a clear error on bad shapes.

        Each condition is traced on one point of its own sample shape."""
        u = self.point_function(net)
        res = self.residual_function(net)
        items = [("residual", lambda u, x: res(x), (self.domain.dim,))]
        items += [(n, c.misfit, c.point_shape()) for n, c in self.conditions.items()]
        for label, fn, shape in items:
            try:
                out = jax.eval_shape(lambda x, fn=fn: fn(u, x), jnp.zeros(shape))
            except Exception as err:  # noqa: BLE001 - re-raised with context
                raise TypeError(
                    f"problem {self.name!r}: evaluating {label}(u, x) at one point x of shape "
                    f"{shape} failed: {err}"
                ) from err
            if len(out.shape) > 1:
                raise ValueError(
                    f"problem {self.name!r}: {label}(u, x) must return a scalar or a 1-D vector "
                    f"for one point, got shape {out.shape}. Write it for a single point x; "
                    "pinnsight vmaps it over the batch."
                )
