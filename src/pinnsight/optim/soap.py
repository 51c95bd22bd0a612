r"""SOAP (ShampoO with Adam in the Preconditioner's eigenbasis) as an optax transformation.

SOAP runs Adam in the eigenbasis of Shampoo's Kronecker-factored preconditioner (Vyas et al.
2024). For a matrix parameter $W\in\mathbb{R}^{m\times n}$ with gradient $G_t$ at step $t$:

$$ L_t = \beta_s L_{t-1} + (1-\beta_s)\,G_t G_t^\top, \qquad
   R_t = \beta_s R_{t-1} + (1-\beta_s)\,G_t^\top G_t \qquad\text{(Shampoo statistics)} $$

$$ G'_t = Q_L^\top G_t Q_R, \qquad M_t = \beta_1 M_{t-1} + (1-\beta_1)\,G_t, \qquad
   M'_t = Q_L^\top M_t Q_R, \qquad V_t = \beta_2 V_{t-1} + (1-\beta_2)\,G'_t\odot G'_t $$

$$ N_t = \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\;
   Q_L\,\Big(\frac{M'_t}{\sqrt{V_t}+\epsilon}\Big)\,Q_R^\top
   \;=\; Q_L\,\Big(\frac{\hat M'_t}{\sqrt{\hat V_t}+\epsilon/\sqrt{1-\beta_2^t}}\Big)\,Q_R^\top $$

with $\hat M = M/(1-\beta_1^t)$, $\hat V = V/(1-\beta_2^t)$ and $\beta_s$ = ``shampoo_beta`` ($\beta_2$
when negative). `scale_by_soap` returns $N_t$; `soap` turns it into $\Delta W = -\eta_t\,(N_t +
\lambda W)$. Choices, all those of the official PyTorch implementation (github.com/nikhilvyas/SOAP):

- **First moment in the original basis.** $M$ is accumulated from the raw gradients and projected
  with the current basis at every step, so it never has to be re-expressed when the basis
  changes. (An earlier official version stored $M'$ and re-projected it at every basis change,
  which is the same thing in exact arithmetic.) $V$ lives in the rotated basis.
- **Bias correction** folded into the step size, $\epsilon$ added to the uncorrected $\sqrt{V}$, as
  in PyTorch's AdamW (the second form above).
- **First call.** It only accumulates $L_1, R_1$ and sets $Q_L, Q_R$ to their eigenvectors
  (``eigh``, columns by decreasing eigenvalue); the update is zero and $M, V$ stay zero, "so that
  we never use the current gradients in the projection". Step $t$ above counts the later calls
  ($t = 1$ on the second call).
- **Order within a step.** The update of step $t$ uses the bases from before step $t$; then
  $L, R$ absorb $G_t$, and when $t$ is a multiple of ``precondition_frequency`` the bases are
  refreshed by one step of power iteration followed by QR (not ``eigh``), for each factor
  $S\in\{L, R\}$ with basis $Q$:

    $$ \lambda_j = (Q^\top S Q)_{jj}, \quad \pi = \operatorname{argsort}_{\downarrow}(\lambda), \quad
       Q \leftarrow \operatorname{qr}\big(S\,Q_{:,\pi}\big)_Q, \quad
       V \leftarrow V \text{ with that axis permuted by } \pi. $$

    $V$ is thus re-expressed in the new basis only by this re-ordering of its rows/columns (the
    official simplification: the new columns of $Q$ are close to the old, re-ordered ones), not
    by a full change of basis, which a diagonal $V$ cannot represent anyway.

- **Fallback to Adam.** Parameters with fewer than two axes (biases, scalars) and every axis
  longer than ``max_precond_dim`` keep the identity basis along that axis (no statistic is
  stored); a parameter with no preconditioned axis gets plain bias-corrected Adam (the official
  default ``precondition_1d=False``; ``precondition_1d=True`` gives vectors a $d\times d$
  statistic $g g^\top$, as the jaxpi port always does). Arrays with more than two axes get one
  statistic per axis (the mode-$k$ unfolding $G_{(k)} G_{(k)}^\top$), as in the official code;
  ``merge_dims`` and ``normalize_grads`` are not implemented.
- **Step counting.** The refresh and the bias correction use $t$ as defined above, as in the
  PyTorch code; the optax port in the jaxpi code base (Wang et al. 2025) counts the first call
  too, so its refreshes come one step earlier and its bias correction uses $t+1$.
- **Weight decay** (`soap` only) is `optax.add_decayed_weights` before the learning rate, i.e.
  $W \leftarrow W - \eta(N + \lambda W)$; the official code applies $W \leftarrow
  (W - \eta N)(1-\eta\lambda)$ and skips it on the first call (differences of order $\eta^2\lambda$).

The bases are refreshed inside `jax.lax.cond` on the step count, so the transformation can be
jitted and run inside `jax.lax.scan`. Matrix products use ``Precision.HIGHEST``.

References:
    N. Vyas, D. Morwani, R. Zhao, I. Shapira, D. Brandfonbrener, L. Janson, S. Kakade, "SOAP:
    Improving and Stabilizing Shampoo using Adam", arXiv:2409.11321 (2024).
    S. Wang, A. K. Bhartari, B. Li, P. Perdikaris, "Gradient alignment in physics-informed neural
    networks: a second-order optimization perspective", arXiv:2502.00604 (2025).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["soap", "scale_by_soap", "ScaleBySoapState"]

_HIGHEST = jax.lax.Precision.HIGHEST

# Per parameter leaf, the statistics and the bases are tuples with one entry per axis: a (d, d)
# array, or None where that axis is not preconditioned (identity basis).
Factors = tuple[Any, ...]


class ScaleBySoapState(NamedTuple):
    count: jax.Array
    """Number of update calls so far (int32); the first call only initialises."""
    mu: optax.Updates
    """First moment $M$, in the original basis."""
    nu: optax.Updates
    """Second moment $V$, in the eigenbasis."""
    stats: optax.Updates
    """Per leaf, one Shampoo statistic ($L$, $R$, ...) per axis, or None for an identity axis."""
    bases: optax.Updates
    """Per leaf, the eigenbases $Q$ matching ``stats`` (None for an identity axis)."""


# ----------------------------------------------------------------------------- validation


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_beta(name: str, value: Any) -> None:
    if not _is_real(value) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be in [0, 1), got {name} = {value!r}.")


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {name} = {value!r}.")


def _check_hyperparameters(
    b1, b2, shampoo_beta, eps, precondition_frequency, max_precond_dim, precondition_1d
) -> None:
    _check_beta("b1", b1)
    _check_beta("b2", b2)
    if not _is_real(shampoo_beta) or not shampoo_beta < 1:
        raise ValueError(
            f"`shampoo_beta` must be in [0, 1), or negative to use b2, got shampoo_beta = {shampoo_beta!r}."
        )
    if not _is_real(eps) or not 0 < eps < math.inf:
        raise ValueError(f"`eps` must be positive and finite, got eps = {eps!r}.")
    _check_positive_int("precondition_frequency", precondition_frequency)
    _check_positive_int("max_precond_dim", max_precond_dim)
    if not isinstance(precondition_1d, bool):
        raise ValueError(
            f"`precondition_1d` must be True or False, got precondition_1d = {precondition_1d!r}."
        )


# ----------------------------------------------------------------------------- per-leaf algebra


def _init_factors(param: jax.Array, max_precond_dim: int, precondition_1d: bool, identity: bool) -> Factors:
    """Zeros (statistics) or identities (bases) for the preconditioned axes, None elsewhere."""
    if param.ndim == 0 or (param.ndim == 1 and not precondition_1d):
        return (None,) * param.ndim
    make = jnp.eye if identity else (lambda d, dtype: jnp.zeros((d, d), dtype))
    return tuple(make(d, dtype=param.dtype) if d <= max_precond_dim else None for d in param.shape)


def _accumulate(grad: jax.Array, stats: Factors, beta: float) -> Factors:
    r"""$S^{(k)} \leftarrow \beta S^{(k)} + (1-\beta) G_{(k)} G_{(k)}^\top$ for each kept axis $k$."""
    out = []
    for axis, s in enumerate(stats):
        if s is None:
            out.append(None)
            continue
        others = [i for i in range(grad.ndim) if i != axis]
        outer = jnp.tensordot(grad, grad, axes=(others, others), precision=_HIGHEST)
        out.append(beta * s + (1 - beta) * outer)
    return tuple(out)


def _rotate(x: jax.Array, bases: Factors, back: bool = False) -> jax.Array:
    r"""$x \times_k Q_k^\top$ for every axis (into the eigenbasis), or $x \times_k Q_k$ (``back``).

    Each pass contracts axis 0 and appends the result as the last axis, so after one pass per
    axis the original axis order is restored; identity axes are only moved.
    """
    for q in bases:
        if q is None:
            x = jnp.moveaxis(x, 0, -1)
        else:
            x = jnp.tensordot(x, q, axes=((0,), (1 if back else 0,)), precision=_HIGHEST)
    return x


def _eigenbasis(stat: jax.Array) -> jax.Array:
    """Eigenvectors of a symmetric statistic, columns ordered by decreasing eigenvalue."""
    return jnp.linalg.eigh(stat)[1][:, ::-1]


def _refresh(stats: Factors, bases: Factors, nu: jax.Array) -> tuple[Factors, jax.Array]:
    """One power-iteration step + QR per factor; permute ``nu`` to the new column order."""
    new_bases = []
    for axis, (s, q) in enumerate(zip(stats, bases, strict=True)):
        if s is None:
            new_bases.append(None)
            continue
        sq = jnp.matmul(s, q, precision=_HIGHEST)
        order = jnp.argsort(jnp.sum(q * sq, axis=0), descending=True)  # diag(Q^T S Q)
        nu = jnp.take(nu, order, axis=axis)
        new_bases.append(jnp.linalg.qr(sq[:, order])[0])
    return tuple(new_bases), nu


def _direction(mu: jax.Array, nu: jax.Array, bases: Factors, t: jax.Array, b1, b2, eps) -> jax.Array:
    """$N_t$: Adam's direction computed in the eigenbasis and rotated back."""
    dtype = mu.dtype
    scale = jnp.sqrt(1 - jnp.asarray(b2, dtype) ** t) / (1 - jnp.asarray(b1, dtype) ** t)
    adam = _rotate(mu, bases) / (jnp.sqrt(nu) + jnp.asarray(eps, dtype))
    return scale * _rotate(adam, bases, back=True)


def _unzip(like: Any, tree: Any, n: int) -> tuple[Any, ...]:
    """Split a tree whose leaves (at the positions of ``like``'s leaves) are n-tuples."""
    return tuple(jax.tree_util.tree_map(lambda _, x, i=i: x[i], like, tree) for i in range(n))


def _refresh_all(stats: optax.Updates, bases: optax.Updates, nu: optax.Updates) -> tuple[Any, Any]:
    """`_refresh` on every leaf; returns the new bases and second moments."""
    pairs = jax.tree_util.tree_map(lambda v, s, q: _refresh(s, q, v), nu, stats, bases)
    return _unzip(nu, pairs, 2)


def _init_state(params: optax.Params, max_precond_dim: int, precondition_1d: bool) -> ScaleBySoapState:
    def factors(identity: bool) -> Any:
        return jax.tree_util.tree_map(
            lambda p: _init_factors(p, max_precond_dim, precondition_1d, identity), params
        )

    return ScaleBySoapState(
        count=jnp.zeros([], jnp.int32),
        mu=optax.tree_utils.tree_zeros_like(params),
        nu=optax.tree_utils.tree_zeros_like(params),
        stats=factors(identity=False),
        bases=factors(identity=True),
    )


# ----------------------------------------------------------------------------- transformations


def scale_by_soap(
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float = -1,
    eps: float = 1e-8,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
) -> optax.GradientTransformation:
    r"""Rescale updates by SOAP: Adam in the eigenbasis of Shampoo's preconditioner.

    Returns $N_t$ of the module docstring (no learning rate, no sign flip). The first call returns
    zeros and only initialises the statistics and eigenbases.

    Args:
        b1: Adam's first-moment decay $\beta_1$, in [0, 1).
        b2: Adam's second-moment decay $\beta_2$, in [0, 1).
        shampoo_beta: decay $\beta_s$ of the Shampoo statistics $L, R$, in [0, 1); negative means
            use ``b2`` (the official default).
        eps: Adam's $\epsilon$, added to $\sqrt{V}$ in the eigenbasis; positive.
        precondition_frequency: refresh the eigenbases every this many steps (positive).
        max_precond_dim: axes longer than this keep the identity basis (Adam along that axis).
        precondition_1d: also precondition vectors (biases) of length <= ``max_precond_dim``;
            by default they get plain Adam.

    Returns:
        An `optax.GradientTransformation` with state `ScaleBySoapState`.
    """
    _check_hyperparameters(
        b1, b2, shampoo_beta, eps, precondition_frequency, max_precond_dim, precondition_1d
    )
    beta_s = float(shampoo_beta) if shampoo_beta >= 0 else float(b2)
    tree_map = jax.tree_util.tree_map

    def init_fn(params: optax.Params) -> ScaleBySoapState:
        return _init_state(params, max_precond_dim, precondition_1d)

    def first_call(updates: optax.Updates, state: ScaleBySoapState):
        stats = tree_map(lambda g, s: _accumulate(g, s, beta_s), updates, state.stats)
        bases = tree_map(_eigenbasis, stats)
        return optax.tree_utils.tree_zeros_like(updates), state._replace(stats=stats, bases=bases)

    def later_call(updates: optax.Updates, state: ScaleBySoapState):
        t = state.count  # Adam steps so far, this one included
        mu = tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = tree_map(
            lambda v, g, q: b2 * v + (1 - b2) * jnp.square(_rotate(g, q)), state.nu, updates, state.bases
        )
        directions = tree_map(lambda m, v, q: _direction(m, v, q, t, b1, b2, eps), mu, nu, state.bases)
        stats = tree_map(lambda g, s: _accumulate(g, s, beta_s), updates, state.stats)

        bases, nu = jax.lax.cond(
            t % precondition_frequency == 0, _refresh_all, lambda _, q, v: (q, v), stats, state.bases, nu
        )
        return directions, ScaleBySoapState(state.count, mu, nu, stats, bases)

    def update_fn(updates: optax.Updates, state: ScaleBySoapState, params: optax.Params | None = None):
        del params
        new_updates, new_state = jax.lax.cond(state.count == 0, first_call, later_call, updates, state)
        return new_updates, new_state._replace(count=optax.safe_int32_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def soap(
    learning_rate: optax.ScalarOrSchedule,
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float = -1,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
) -> optax.GradientTransformation:
    r"""The SOAP optimiser: `scale_by_soap`, decoupled weight decay, then the learning rate.

    $\Delta W = -\eta_t\,(N_t + \lambda W)$ with $N_t$ from `scale_by_soap` (zero on the first
    call, apart from the weight decay). The official defaults are ``b1 = b2 = 0.95``,
    ``precondition_frequency = 10``. The arguments ``b1``, ``b2``, ``shampoo_beta``, ``eps``,
    ``precondition_frequency``, ``max_precond_dim`` and ``precondition_1d`` are those of
    `scale_by_soap`.

    Args:
        learning_rate: $\eta$, a positive float (or scalar array) or an optax schedule of the step.
        weight_decay: $\lambda \ge 0$, decoupled (AdamW-style); 0 disables it.

    Returns:
        An `optax.GradientTransformation` (an `optax.chain`).
    """
    if _is_real(learning_rate):
        if not 0 < learning_rate < math.inf:
            raise ValueError(
                f"`learning_rate` must be positive and finite, got learning_rate = {learning_rate!r}."
            )
    elif not (callable(learning_rate) or isinstance(learning_rate, (jax.Array, np.ndarray))):
        raise ValueError(
            f"`learning_rate` must be a positive float or an optax schedule, got learning_rate = "
            f"{learning_rate!r}."
        )
    if not _is_real(weight_decay) or not 0 <= weight_decay < math.inf:
        raise ValueError(f"`weight_decay` must be >= 0 and finite, got weight_decay = {weight_decay!r}.")
    parts = [
        scale_by_soap(b1, b2, shampoo_beta, eps, precondition_frequency, max_precond_dim, precondition_1d)
    ]
    if weight_decay > 0:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)
