r"""The training core: state, the compiled step, and `fit` — no files, no printing.

One step (PAPER §3, eq. 42, with a weight on every term), all inside ``jit``:

1. points for the residual (from the sampler) and each condition (keys split in the step;
   from step ``fixed_from`` on the key stops advancing, so every step sees the same points,
   as L-BFGS needs);
2. $\mathcal{L}_r$ and each group loss $\mathcal{L}_g$ with their gradients;
3. the balancer's weights $\lambda_i$ for every term, from losses, gradients and, on
   demand, per-point NTK diagonals (`pinnsight.weighting.BalanceInputs`);
4. the optimizer's update of $\sum_i\lambda_i\nabla\mathcal{L}_i$; extra arguments
   ``value``, ``grad``, ``value_fn`` are passed, so `optax.lbfgs` runs as well as Adam.

Steps run in chunks of ``chunk_size``; Python only loops over chunks, computing the
chunk's metrics row (losses, λ, error on the reference, gradient imbalance), checking for
NaN and calling the callbacks (`pinnsight.callbacks`) between them.

The error after each chunk is the relative L2 error $\|u_\theta - u\|_2/\|u\|_2$ on a fixed
random subsample of ``eval_points`` reference points (`eval_subsample`: drawn once, with a
fixed seed, the same for every run); the summary's ``final_error`` is measured once on the
whole reference at the end, so a $10^6$-point grid costs one full evaluation per run instead
of one per chunk. The time spent evaluating and in the callbacks (host-side, each measured
after its results are on the host) is reported as ``eval_log_time_s`` and its share of the
wall time, ``eval_log_share``; the step and the evaluation programs are compiled before that
clock starts (``compile_time_s``). One compiled loop with
a traced step count runs every chunk, in calls of at most about
`pinnsight.interrupt.SUBCHUNK_SECONDS` each (the length adapts to the measured speed): where
a chunk is cut into calls never changes the trajectory, only how soon a stop request
(SIGINT/SIGTERM) is honoured. Before the first step the compiled step's peak memory is
checked against the machine's (`pinnsight.memory`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import interrupt, memory
from .callbacks import Callback, FitContext
from .coefficients import attach_coefficients, coefficient_values
from .data_parallel import check_batch, data_mesh, replicate, replicated_constraint, shard_points
from .diagnostics.stats import gradient_summary
from .losses import (
    RESIDUAL,
    WeightedLoss,
    batch_sizes,
    group_losses,
    ntk_diagonal,
    relative_l2,
    sample_points,
    term_gradients,
    term_losses_and_gradients,
    total_loss_fn,
    weighted_gradient,
    weighted_residuals_fn,
    weighted_total,
)
from .nets.base import check_network
from .optim import paper_optimizer
from .problem import Problem
from .sampling import Sampler, uniform
from .weighting import BalanceInputs, Balancer, fixed

__all__ = [
    "TrainState",
    "FitResult",
    "DivergenceError",
    "init_state",
    "make_step",
    "fit",
    "check_step_memory",
    "eval_subsample",
    "DEFAULT_EVAL_POINTS",
]

DEFAULT_EVAL_POINTS = 4096
"""Reference points on which `fit` measures the error after every chunk (0/None: all)."""

EVAL_SEED = 20210128
"""Seed of the evaluation subsample: fixed, so every run and every resume uses the same points."""


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss; the last good state was kept."""


class TrainState(NamedTuple):
    """Everything that evolves during training (a pytree; checkpoint it whole)."""

    params: Any
    opt_state: Any
    balancer_state: Any
    key: jax.Array
    step: jax.Array
    sampler_state: Any = ()


@dataclass
class FitResult:
    """What `fit` returns: the trained network, the logged history, a summary and the state.

    Attributes:
        net: the trained network (the type passed to `fit`, with the final parameters; for a
            problem with trainable coefficients, a `WithCoefficients` holding it and them).
        history: one array per logged quantity, one entry per chunk: ``"step"``, ``"loss"``
            (the weighted total), ``"loss_<term>"`` (unweighted, for ``"residual"`` and each
            condition), ``"lambda_<term>"``, ``"error"`` (relative L2 against the reference
            on ``"error_points"`` of its points: a fixed random subsample of ``eval_points``
            points, or all of them when the reference is no larger; `eval_subsample`),
            the gradient statistics ``"gmax_<term>"``, ``"gmean_<term>"`` and
            ``"imbalance_<group>"``, ``"coef_<name>"`` (each trainable coefficient), and
            ``"wall_time"``, ``"steps_per_s"``.
        summary: ``"problem"``, ``"status"`` (``"finished"``, ``"diverged"`` or
            ``"interrupted"``), ``"steps"``, ``"start_step"``, ``"final_error"``,
            ``"final_loss"``, ``"wall_time_s"``, ``"train_time_s"`` (compiled steps only),
            ``"steps_per_s"``, ``"final_lambda"`` (``{group: lambda}``), ``"eval_points"``
            (points of the per-chunk error), ``"eval_log_time_s"`` (evaluation, gradient
            statistics and callbacks, host-side) and ``"eval_log_share"`` (its fraction of
            ``wall_time_s``), ``"compile_time_s"`` (compiling the step and the evaluation
            programs, before ``wall_time_s`` starts) and, for trainable
            coefficients, ``"final_coefficients"`` (``{name: value}``). ``"final_error"`` is
            always measured on the whole reference.
        state: the final `TrainState`; hand it back to `fit` (``state=``) to go on training.

    Example:
        ```python
        result = ps.fit(problem, net, ps.annealing(), steps=2000, key=jax.random.PRNGKey(1))
        result.summary["final_error"]        # relative L2 error after 2000 steps
        result.history["error"]              # the error after every chunk (on a subsample)
        result.history["lambda_bc"]          # lambda of the group "bc", per chunk
        # 1000 more steps from where it stopped (steps counts from step 0):
        more = ps.fit(problem, net, ps.annealing(), steps=3000, key=jax.random.PRNGKey(1),
                      state=result.state)
        ```
    """

    net: Any
    history: dict[str, np.ndarray]
    summary: dict[str, Any]
    state: TrainState | None = field(default=None, repr=False)


def terms_of(problem: Problem) -> tuple[str, ...]:
    """The weighted terms: ``"residual"`` and each constraint group."""
    return (RESIDUAL, *problem.groups)


def init_state(
    problem: Problem,
    net: eqx.Module,
    optimizer: optax.GradientTransformation,
    balancer: Balancer,
    sampler: Sampler,
    key: jax.Array,
) -> TrainState:
    """The `TrainState` at step 0 for ``net`` (its trainable arrays are the parameters; with
    the problem's trainable coefficients attached, if it has any)."""
    net = attach_coefficients(problem.coefficients, net)
    params, _ = eqx.partition(net, eqx.is_inexact_array)
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        balancer_state=balancer.init(terms_of(problem)),
        key=key,
        step=jnp.asarray(0, dtype=jnp.int32),
        sampler_state=sampler.init(),
    )


def make_step(
    problem: Problem,
    net: eqx.Module,
    optimizer: optax.GradientTransformation,
    balancer: Balancer,
    sizes: Mapping[str, int],
    sampler: Sampler | None = None,
    *,
    fixed_from: int | None = None,
    devices: int | jax.sharding.Mesh | None = None,
) -> Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure training step ``state -> (state, metrics)`` (jit it, or scan it).

    ``net`` gives the static (non-trainable) part of the network; its parameters come
    from the state. ``devices`` (a count, or a mesh with the one axis ``"data"``): with more
    than one, the step's points are sharded over the devices and the new state constrained
    to be replicated (`pinnsight.data_parallel`; hand it a state placed with
    `pinnsight.data_parallel.replicate`); None or 1 leaves the step as it is.
    """
    mesh = data_mesh(devices)
    check_batch(sizes, mesh)
    sampler = sampler or uniform(problem.domain)
    net = attach_coefficients(problem.coefficients, net)
    _, static = eqx.partition(net, eqx.is_inexact_array)
    optimizer = optax.with_extra_args_support(optimizer)

    def step(state: TrainState):
        key, sub = jax.random.split(state.key)
        if fixed_from is not None:  # stop advancing the key: the same points from then on
            key = jnp.where(state.step >= fixed_from, state.key, key)
        pts = sample_points(problem, sub, sizes, lambda k, n: sampler.draw(state.sampler_state, k, n))
        pts = shard_points(pts, mesh)  # unchanged on one device
        point_weights = None
        if balancer.point_weights is not None:
            point_weights = functools.partial(balancer.point_weights, state.balancer_state)
        losses, grads = term_losses_and_gradients(problem, static, state.params, pts, point_weights)
        terms = group_losses(problem, losses)
        inputs = BalanceInputs(
            losses=terms,
            grads=grads,
            kernels={name: g.main_kernels() for name, g in grads.items()},
            step=state.step,
            ntk_diagonal=lambda term: ntk_diagonal(problem, static, state.params, pts, term),
        )
        bstate = balancer.update(inputs, state.balancer_state)
        lam = bstate.weights
        total_grad = weighted_gradient(lam, grads, balancer.weights_residual)
        value = weighted_total(lam, terms, balancer.weights_residual)
        frozen = jax.lax.stop_gradient(lam)
        updates, opt_state = optimizer.update(
            total_grad,
            state.opt_state,
            state.params,
            value=value,
            grad=total_grad,
            value_fn=WeightedLoss(
                total_loss_fn(problem, static, frozen, pts),
                weighted_residuals_fn(problem, static, frozen, pts),
            ),
        )
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": value,
            **{f"loss_{k}": v for k, v in losses.items()},
            **{f"lambda_{g}": lam[g] for g in terms_of(problem)},
        }
        new = TrainState(params, opt_state, bstate, key, state.step + 1, state.sampler_state)
        return replicated_constraint(new, mesh), metrics

    return step


class _NonFinite(Exception):
    def __init__(self, offset: int, loss: float):
        self.offset, self.loss = offset, loss


class _ChunkRunner:
    """``(state, length) -> (state, metrics)``: ``length`` steps of the compiled loop in calls
    of about `interrupt.SUBCHUNK_SECONDS` (measured), a stop request honoured between calls;
    metrics are the last step's, with a leading axis of one (as a scan's last entry)."""

    def __init__(self, run_steps: Callable, first: int = 8):
        self.run_steps = run_steps
        self.calls = first
        self.fixed: int | None = None  # tests: force the call length

    def __call__(self, state: TrainState, length: int):
        done, metrics = 0, None
        while done < length:
            interrupt.check()
            n = min(self.fixed or self.calls, length - done)
            t0 = time.perf_counter()
            state, metrics, ran = self.run_steps(state, np.int32(n))
            ran = int(ran)
            loss = float(metrics["loss"])
            if not np.isfinite(loss):
                raise _NonFinite(done + ran - 1, loss)
            done += n
            rate = n / max(time.perf_counter() - t0, 1e-6)
            self.calls = int(max(1, min(8 * n, rate * interrupt.SUBCHUNK_SECONDS)))
        return state, {k: jnp.expand_dims(v, 0) for k, v in metrics.items()}


@dataclass
class _Compiled:
    """The jitted pieces `fit` runs: a chunk of steps, the sampler refresh, the chunk metrics."""

    run_chunk: Callable
    refresh_sampler: Callable
    error_of: Callable
    stats_of: Callable
    chunk_error_of: Callable | None = None
    """The error after each chunk: on the evaluation subsample, or `error_of` itself."""
    error_points: int = 0
    """Reference points ``chunk_error_of`` measures on."""


def eval_subsample(n_total: int, eval_points: int | None, seed: int = EVAL_SEED) -> np.ndarray | None:
    r"""The fixed evaluation subsample: sorted indices of ``eval_points`` of ``n_total``
    reference points, drawn uniformly without replacement by ``numpy.random.default_rng(seed)``
    (the same points for every run, seed and resume); None, meaning all points, when
    ``eval_points`` is 0/None or not smaller than ``n_total``.

    On the subsample $S$ the chunk error is $\|u_\theta - u\|_{2,S}/\|u\|_{2,S}$, an estimate
    of the full relative L2 error whose relative spread shrinks like $|S|^{-1/2}$."""
    if not eval_points or int(eval_points) >= n_total:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=int(eval_points), replace=False))


def _with_evaluation(compiled: _Compiled, problem: Problem, static, eval_points: int | None) -> _Compiled:
    """``compiled`` with its per-chunk error: jitted once on the fixed subsample of
    ``eval_points`` reference points (`eval_subsample`), or `error_of` (the whole reference)
    when the subsample would not be smaller."""
    ref = problem.reference_data
    idx = eval_subsample(len(ref.points), eval_points)
    if idx is None:
        return replace(compiled, chunk_error_of=compiled.error_of, error_points=len(ref.points))
    dtype = jnp.result_type(float)
    pts = jnp.asarray(np.asarray(ref.points)[idx], dtype=dtype)
    vals = jnp.asarray(np.asarray(ref.values)[idx], dtype=dtype)

    @jax.jit
    def chunk_error_of(params):
        return relative_l2(problem.observe(eqx.combine(params, static), pts), vals)

    return replace(compiled, chunk_error_of=chunk_error_of, error_points=len(idx))


def _steps_loop(step_fn, state) -> Callable:
    """The jitted ``run_steps(state, n)``: up to ``n`` steps of ``step_fn`` (a traced count: one
    executable for every length), stopping after the first non-finite loss; returns the state,
    the last step's metrics and the steps run. ``state`` may be shapes only."""
    metric_shapes = jax.eval_shape(step_fn, state)[1]

    @jax.jit
    def run_steps(state: TrainState, n: jax.Array):
        def cond(carry):
            i, _, m = carry
            return (i < n) & ((i == 0) | jnp.isfinite(m["loss"]))

        def body(carry):
            i, s, _ = carry
            s, m = step_fn(s)
            return i + 1, s, m

        zeros = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), metric_shapes)
        i, s, m = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), state, zeros))
        return s, m, i

    return run_steps


def check_step_memory(
    problem: Problem,
    net: eqx.Module,
    balancer: Balancer | None = None,
    optimizer: optax.GradientTransformation | None = None,
    sampler: Sampler | None = None,
    batch_size: int | Mapping[str, int] = 128,
    *,
    devices: int | jax.sharding.Mesh | None = None,
) -> None:
    """Refuse now, before any training, a step that `fit` would refuse at its start for lack of
    memory (`pinnsight.memory.MemoryEstimateError`): e.g. a curriculum's later stage with its own
    larger batch, checked before the first stage trains. Compiles the step loop on shapes only
    (nothing is allocated); the arguments are `fit`'s."""
    parts = _fit_parts(problem, net, balancer, optimizer, sampler, batch_size, None, devices)
    key = jax.random.PRNGKey(0)
    shapes = jax.eval_shape(
        lambda: init_state(problem, parts.net, parts.optimizer, parts.balancer, parts.sampler, key)
    )
    _check_memory(_steps_loop(parts.step_fn, shapes), shapes, parts.sizes, parts.mesh)


def _compile(problem, static, step_fn, sampler: Sampler, key, sizes, state) -> _Compiled:
    refresh_key = jax.random.fold_in(key, 0x5A4D)
    stats_key = jax.random.fold_in(key, 0x57A7)
    ref = problem.reference_data
    ref_pts = jnp.asarray(ref.points, dtype=jnp.result_type(float))
    ref_vals = jnp.asarray(ref.values, dtype=jnp.result_type(float))

    @jax.jit
    def refresh_sampler(state: TrainState) -> TrainState:
        net = eqx.combine(state.params, static)

        def residual_norm(points):
            return jnp.linalg.norm(problem.residuals(net, points), axis=-1)

        new = sampler.refresh(residual_norm, jax.random.fold_in(refresh_key, state.step), state.sampler_state)
        return state._replace(sampler_state=new)

    run_steps = _steps_loop(step_fn, state)

    @jax.jit
    def error_of(params):
        return relative_l2(problem.observe(eqx.combine(params, static), ref_pts), ref_vals)

    @jax.jit
    def stats_of(params, step):
        _, grads = term_gradients(problem, static, params, jax.random.fold_in(stats_key, step), sizes)
        kernels = {name: g.main_kernels() for name, g in grads.items()}
        return gradient_summary(kernels, problem.groups), kernels

    return _Compiled(_ChunkRunner(run_steps), refresh_sampler, error_of, stats_of)


def _evaluation_compiled(compiled: _Compiled, params) -> _Compiled:
    """``compiled`` calling executables of its evaluation programs — the per-chunk error, the
    gradient statistics and the error on the whole reference — compiled ahead of time on
    ``params``' shapes, so that the loop's wall clock holds no compilation (`fit` reports it
    as ``compile_time_s``). The same executables as a first call would build, so the same
    numbers."""
    stats = compiled.stats_of.lower(params, jax.ShapeDtypeStruct((), jnp.int32)).compile()
    error = compiled.error_of.lower(params).compile()
    whole = compiled.chunk_error_of is compiled.error_of  # `_final_error` relies on the identity
    chunk = error if whole else compiled.chunk_error_of.lower(params).compile()
    return replace(
        compiled, stats_of=lambda p, s: stats(p, np.int32(s)), error_of=error, chunk_error_of=chunk
    )


def _check_memory(run_steps, state, sizes, mesh=None) -> None:
    """Compile the step loop ahead of time (the later calls reuse it) and refuse a step whose
    peak memory, by XLA's analysis (else a formula), exceeds the machine's available memory.
    With a data-parallel ``mesh`` the state is replicated on it and the analysis is per device."""
    where = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()) if mesh is not None else None
    abstract = jax.tree_util.tree_map(
        lambda a: (
            jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=getattr(a, "weak_type", False), sharding=where)
            if hasattr(a, "shape")
            else a
        ),
        state,
    )
    compiled = run_steps.lower(abstract, jax.ShapeDtypeStruct((), jnp.int32)).compile()
    estimate = memory.compiled_bytes(compiled)
    if estimate is None:  # a backend without memory analysis: points x widths x passes x bytes
        itemsize = jnp.dtype(jnp.result_type(float)).itemsize
        width = sum(int(np.prod(getattr(a, "shape", ()))) for a in jax.tree_util.tree_leaves(state.params))
        estimate = sum(sizes.values()) * int(np.sqrt(max(width, 1))) * 4 * 4 * itemsize
    memory.check(
        estimate,
        f"one training step ({sum(sizes.values())} points per step: {dict(sizes)})",
        "lower sampling.batch_size (or the network's width), or use a machine with more memory",
        device=jax.devices()[0],
    )


def _chunk_length(done: int, steps: int, chunk_size: int, callbacks: Sequence[Callback]) -> int:
    """Steps in the next chunk: at most ``chunk_size``, ending where a callback is due."""
    length = min(chunk_size, steps - done)
    for cb in callbacks:
        nxt = cb.next_due(done)
        if nxt is not None and done < nxt < done + length:
            length = nxt - done
    return length


def _divergence(loss: float, bad: int, done: int) -> DivergenceError:
    return DivergenceError(
        f"training diverged: the loss became {loss} at step {bad}. "
        f"The last good state (step {done}) was kept. "
        "Try a smaller learning rate, `--x64`, or check the residual."
    )


DEGRADED_FACTOR = 10.0
"""A finished run whose final error is this many times its best (or above 1) is "degraded"."""


def degradation(errors: Sequence[float]) -> str | None:
    """Why a run's error history counts as degraded (None if it does not): the final relative
    L2 error grew to `DEGRADED_FACTOR` times its best, or above 1 (worse than predicting zero)
    after having been below 1."""
    errs = [float(e) for e in errors if e is not None and np.isfinite(e)]
    if not errs:
        return None
    final, best = errs[-1], min(errs)
    if final > DEGRADED_FACTOR * best:
        why = f"the error grew to {final:.3g}, {final / best:.0f}x its best ({best:.3g})"
    elif final > 1.0 and best < 1.0 and final > 1.5 * best:
        why = f"the error grew to {final:.3g} (above 1; its best was {best:.3g})"
    else:
        return None
    return (
        f"{why}; try a lower learning rate (--set optim.learning_rate=...), --x64, "
        "or another recipe (e.g. --recipe M4)"
    )


def _summary(problem, status, done, history, wall, train_time) -> dict[str, Any]:
    lambdas = {k[len("lambda_") :]: v[-1] for k, v in history.items() if k.startswith("lambda_")}
    coefs = {k[len("coef_") :]: v[-1] for k, v in history.items() if k.startswith("coef_")}
    return {
        "problem": problem.name,
        "status": status,
        "steps": done,
        "final_error": history["error"][-1] if history.get("error") else None,
        "final_loss": history["loss"][-1] if history.get("loss") else None,
        "wall_time_s": wall,
        "train_time_s": train_time,
        "steps_per_s": done / train_time if train_time > 0 else None,
        "final_lambda": {g: v for g, v in lambdas.items() if g != RESIDUAL or v != 1.0},
        **({"final_coefficients": coefs} if coefs else {}),
    }


def fit(
    problem: Problem,
    net: eqx.Module,
    balancer: Balancer | None = None,
    *,
    steps: int,
    key: jax.Array,
    optimizer: optax.GradientTransformation | None = None,
    sampler: Sampler | None = None,
    batch_size: int | Mapping[str, int] = 128,
    chunk_size: int = 500,
    eval_points: int | None = DEFAULT_EVAL_POINTS,
    fixed_from: int | None = None,
    callbacks: Sequence[Callback] = (),
    state: TrainState | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
    columns: Mapping[str, float] | None = None,
    devices: int | jax.sharding.Mesh | None = None,
) -> FitResult:
    r"""Train a PINN: minimise $\sum_i\lambda_i\mathcal{L}_i$ for ``steps`` steps. Writes nothing.

    **Main arguments:**

    - ``problem``: the `Problem`; ``net``: a network of one point (`pinnsight.nets`);
    - ``balancer``: a `Balancer` (default: fixed weights 1, i.e. M1/M3);
    - ``steps``: total optimiser steps (> 0); ``key``: PRNG key for the collocation points.

    **Other arguments:**

    - ``optimizer``: any optax transformation, `optax.lbfgs` included (default `paper_optimizer`);
    - ``sampler``: where the residual points come from (default `uniform`, the paper's);
    - ``batch_size``: points per sampler per step (one int, or per term name);
    - ``chunk_size``: steps per compiled `lax.scan` call; callbacks run between chunks;
    - ``eval_points``: reference points of the error after each chunk, a fixed random
      subsample (`eval_subsample`); 0 or None: the whole reference every chunk. The
      summary's ``final_error`` is on the whole reference either way;
    - ``fixed_from``: from this step on, keep the step's points fixed (for L-BFGS; 0: always);
    - ``callbacks``: `pinnsight.callbacks.Callback` objects (run folder, progress bar, ...);
    - ``state``: resume from this `TrainState` (its ``step`` counts towards ``steps``);
    - ``columns``: constant columns of every metrics row, right after ``step`` (a
      curriculum's ``stage``, `pinnsight.experiments.curriculum`);
    - ``history``: the rows logged before ``state`` (resuming from a checkpoint), so that the
      summary and `FitResult.history` cover the whole run;
    - ``devices``: data-parallel training over this many of ``jax.devices()`` (or a
      `jax.sharding.Mesh` with the one axis ``"data"``): the state is replicated, each step's
      points are sharded and XLA sums the gradients (`pinnsight.data_parallel`; every batch
      size must be divisible by the count). Several hosts: call `jax.distributed.initialize()`
      first and count the devices of all hosts. None or 1: one device, as before.

    A stop request (`pinnsight.interrupt`, SIGINT/SIGTERM under the ``pinnsight`` command)
    ends the run after the current call of the compiled loop (about half a second) with
    `pinnsight.interrupt.Interrupted`; the callbacks see the last finished chunk.

    Example:
        >>> result = ps.fit(problem, net, ps.annealing(), steps=3000, key=jax.random.PRNGKey(1))
        >>> result.summary["final_error"]  # doctest: +SKIP

    Raises:
        ValueError: bad sizes or step counts, a network that does not fit the problem, more
            devices than JAX sees, or a batch size not divisible by ``devices``.
        DivergenceError: a loss became NaN/inf; the callbacks' ``on_end`` saw the last
            good state with status ``"diverged"``.
        pinnsight.memory.MemoryEstimateError: the compiled step will not fit in memory.
    """
    steps, chunk_size = _checked_lengths(steps, chunk_size, eval_points)
    parts = _fit_parts(problem, net, balancer, optimizer, sampler, batch_size, fixed_from, devices)
    with interrupt.busy():
        t0 = time.perf_counter()
        compiled, state = _compiled_and_state(problem, parts, key, eval_points, state)
        ctx = FitContext(problem, parts.static, state, steps, parts.sizes, key, done=int(state.step))
        ctx.extras["compile_time_s"] = time.perf_counter() - t0
        ctx.extras["columns"] = {k: float(v) for k, v in (columns or {}).items()}
        return _loop(ctx, compiled, chunk_size, list(callbacks), history)


def _checked_lengths(steps: int, chunk_size: int, eval_points: int | None) -> tuple[int, int]:
    """``(steps, chunk_size)`` as ints, after checking them and ``eval_points`` (`fit`'s
    arguments of the same names).

    Raises:
        ValueError: ``steps < 1``, ``chunk_size < 1``, or a negative (or bool) ``eval_points``.
    """
    steps, chunk_size = int(steps), int(chunk_size)
    if steps < 1:
        raise ValueError(f"`steps` must be a positive number of steps, got steps = {steps}.")
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size}.")
    if eval_points is not None and (isinstance(eval_points, bool) or int(eval_points) < 0):
        raise ValueError(
            f"`eval_points` must be >= 0 (0 or None: the whole reference), got eval_points = {eval_points}."
        )
    return steps, chunk_size


class _FitParts(NamedTuple):
    """What `fit` trains with, defaults filled in and checked (`_fit_parts`)."""

    net: eqx.Module
    """The network, with the problem's trainable coefficients attached (if any)."""
    static: Any
    """Its non-trainable part (`eqx.partition` on inexact arrays)."""
    balancer: Balancer
    optimizer: optax.GradientTransformation
    sampler: Sampler
    sizes: Mapping[str, int]
    """Points per term per step (`batch_sizes`)."""
    mesh: jax.sharding.Mesh | None
    """The data-parallel mesh, None on one device (`data_mesh`)."""
    step_fn: Callable
    """The pure training step (`make_step`)."""


def _fit_parts(
    problem: Problem,
    net: eqx.Module,
    balancer: Balancer | None,
    optimizer: optax.GradientTransformation | None,
    sampler: Sampler | None,
    batch_size: int | Mapping[str, int],
    fixed_from: int | None,
    devices: int | jax.sharding.Mesh | None,
) -> _FitParts:
    """`fit`'s defaults (fixed weights 1, `paper_optimizer`, the uniform sampler) and checks of
    the batch sizes, the network against the problem, ``fixed_from`` and ``devices`` (in that
    order), then the training step.

    Raises:
        ValueError: as `fit` (bad sizes, network, ``fixed_from`` or device count).
    """
    sizes = batch_sizes(problem, batch_size)
    net = attach_coefficients(problem.coefficients, net)  # trainable PDE coefficients, if any
    check_network(net, problem.domain.dim, problem.output_dim)
    problem.check(net)
    balancer, optimizer = balancer or fixed(), optimizer or paper_optimizer()
    sampler = sampler or uniform(problem.domain)
    _, static = eqx.partition(net, eqx.is_inexact_array)
    if fixed_from is not None and int(fixed_from) < 0:
        raise ValueError(f"`fixed_from` must be a step >= 0 or None, got fixed_from = {fixed_from}.")
    mesh = data_mesh(devices)
    step_fn = make_step(
        problem, net, optimizer, balancer, sizes, sampler, fixed_from=fixed_from, devices=mesh
    )
    return _FitParts(net, static, balancer, optimizer, sampler, sizes, mesh, step_fn)


def _compiled_and_state(
    problem: Problem, parts: _FitParts, key: jax.Array, eval_points: int | None, state: TrainState | None
) -> tuple[_Compiled, TrainState]:
    """The compiled pieces (`_compile`, with the per-chunk error of `_with_evaluation`) and the
    state to start from: ``state`` (resuming) or `init_state`'s, replicated over the mesh.

    The step is compiled, and its memory checked, on the state's *shapes* first, so that a
    step too large for the machine is refused before the state (a RAD pool, say) is allocated.
    """

    def fresh() -> TrainState:
        return init_state(problem, parts.net, parts.optimizer, parts.balancer, parts.sampler, key)

    shapes = state or jax.eval_shape(fresh)
    compiled = _compile(problem, parts.static, parts.step_fn, parts.sampler, key, parts.sizes, shapes)
    compiled = _with_evaluation(compiled, problem, parts.static, eval_points)
    _check_memory(compiled.run_chunk.run_steps, shapes, parts.sizes, parts.mesh)
    if parts.mesh is None:  # data parallel: compiled at the first call, for the replicated state
        compiled = _evaluation_compiled(compiled, shapes.params)
    if state is None:
        state = fresh()
    return compiled, replicate(state, parts.mesh)  # one device: unchanged


def _loop(
    ctx: FitContext, compiled: _Compiled, chunk_size: int, callbacks: list[Callback], earlier=None
) -> FitResult:
    """Run chunks until ``ctx.steps``; callbacks between chunks; summary at the end.

    Two host-side timers: ``train`` (the compiled steps) and ``eval_log`` (each chunk's row —
    error, gradient statistics —, the callbacks, the final error on the whole reference); each
    stops after its results are on the host."""
    history: dict[str, list[float]] = {k: list(v) for k, v in (earlier or {}).items()}
    t_start, status = time.perf_counter(), "finished"
    times = {"train": 0.0, "eval_log": 0.0}
    start = ctx.done
    try:
        t1 = time.perf_counter()
        if callbacks:
            _, ctx.probe = jax.block_until_ready(compiled.stats_of(ctx.state.params, ctx.done))
        for cb in callbacks:
            cb.on_start(ctx)
        times["eval_log"] += time.perf_counter() - t1
        while ctx.done < ctx.steps:
            interrupt.check()
            state = compiled.refresh_sampler(ctx.state)  # a no-op for the uniform sampler
            length = _chunk_length(ctx.done, ctx.steps, chunk_size, callbacks)
            t0 = time.perf_counter()
            try:
                new_state, metrics = compiled.run_chunk(state, length)
            except _NonFinite as bad:
                status = "diverged"
                raise _divergence(bad.loss, ctx.done + bad.offset, ctx.done) from None
            finally:
                times["train"] += time.perf_counter() - t0
            ctx.state, ctx.done = new_state, ctx.done + length
            t1 = time.perf_counter()
            row = _row(ctx, compiled, metrics, length, t0, t_start)
            for k, v in row.items():
                history.setdefault(k, []).append(v)
            for cb in callbacks:
                cb.on_chunk(ctx, row)
            times["eval_log"] += time.perf_counter() - t1
    except BaseException:
        status = status if status == "diverged" else "interrupted"
        raise
    finally:
        summary = _finish(ctx, compiled, status, history, start, t_start, times)
        for cb in callbacks:
            cb.on_end(ctx, summary)
    return FitResult(
        net=ctx.net, history={k: np.asarray(v) for k, v in history.items()}, summary=summary, state=ctx.state
    )


def _final_error(ctx: FitContext, compiled: _Compiled, history, status: str) -> float | None:
    """The error on the whole reference at the end: the last chunk's when it was measured there
    (or the run was interrupted: no summary is written then), else one full evaluation — the
    same compiled function as a full-grid chunk, so the same bits."""
    errors = history.get("error")
    if not errors:
        return None
    if compiled.chunk_error_of is compiled.error_of or status == "interrupted":
        return errors[-1]
    return float(compiled.error_of(ctx.state.params))


def _finish(
    ctx: FitContext, compiled: _Compiled, status: str, history, start: int, t_start: float, times
) -> dict[str, Any]:
    """The run's summary: the final error on the whole reference, the degradation check, and
    the time spent evaluating and logging (``eval_log_time_s``) and its share of the wall time."""
    t1 = time.perf_counter()
    final_error = _final_error(ctx, compiled, history, status)
    times["eval_log"] += time.perf_counter() - t1
    wall, train_time = time.perf_counter() - t_start, times["train"]
    summary = _summary(ctx.problem, status, ctx.done, history, wall, train_time)
    summary["final_error"] = final_error
    summary["start_step"] = start
    summary["steps_per_s"] = (ctx.done - start) / train_time if train_time > 0 else None
    summary["eval_points"] = compiled.error_points
    summary["eval_log_time_s"] = times["eval_log"]
    summary["eval_log_share"] = times["eval_log"] / wall if wall > 0 else None
    summary["compile_time_s"] = ctx.extras.get("compile_time_s")
    errors = list(history.get("error", []))
    why = degradation(errors[:-1] + [final_error]) if status == "finished" and errors else None
    if why:
        summary["status"], summary["warning"] = "degraded", why
    return summary


def _row(ctx: FitContext, compiled: _Compiled, metrics, length: int, t0: float, t_start: float):
    """The metrics row of a finished chunk: last step's metrics, error, gradient imbalance, times."""
    row: dict[str, float] = {"step": ctx.done, **ctx.extras.get("columns", {})}
    row.update({k: float(np.asarray(v)[-1]) for k, v in metrics.items()})
    row.update({f"coef_{k}": v for k, v in coefficient_values(ctx.net).items()})
    row["error"] = float(compiled.chunk_error_of(ctx.state.params))
    row["error_points"] = float(compiled.error_points)
    stats, ctx.probe = compiled.stats_of(ctx.state.params, ctx.done)
    row.update({k: float(v) for k, v in stats.items()})
    row["wall_time"] = time.perf_counter() - t_start
    row["steps_per_s"] = length / max(time.perf_counter() - t0, 1e-9)
    return row
