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

Steps run in `jax.lax.scan` chunks; Python only loops over chunks, computing the
chunk's metrics row (losses, λ, error on the reference, gradient imbalance), checking for
NaN and calling the callbacks (`pinnsight.callbacks`) between them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .callbacks import Callback, FitContext
from .coefficients import attach_coefficients, coefficient_values
from .diagnostics.stats import gradient_summary
from .losses import (
    RESIDUAL,
    batch_sizes,
    group_losses,
    ntk_diagonal,
    relative_l2,
    sample_points,
    term_gradients,
    term_losses_and_gradients,
    total_loss_fn,
    weighted_gradient,
    weighted_total,
)
from .nets.base import check_network
from .optim import paper_optimizer
from .problem import Problem
from .sampling import Sampler, uniform
from .weighting import BalanceInputs, Balancer, fixed

__all__ = ["TrainState", "FitResult", "DivergenceError", "init_state", "make_step", "fit"]


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
            condition), ``"lambda_<term>"``, ``"error"`` (relative L2 against the reference),
            the gradient statistics ``"gmax_<term>"``, ``"gmean_<term>"`` and
            ``"imbalance_<group>"``, ``"coef_<name>"`` (each trainable coefficient), and
            ``"wall_time"``, ``"steps_per_s"``.
        summary: ``"problem"``, ``"status"`` (``"finished"``, ``"diverged"`` or
            ``"interrupted"``), ``"steps"``, ``"start_step"``, ``"final_error"``,
            ``"final_loss"``, ``"wall_time_s"``, ``"train_time_s"`` (compiled steps only),
            ``"steps_per_s"``, ``"final_lambda"`` (``{group: lambda}``) and, for trainable
            coefficients, ``"final_coefficients"`` (``{name: value}``).
        state: the final `TrainState`; hand it back to `fit` (``state=``) to go on training.

    Example:
        ```python
        result = ps.fit(problem, net, ps.annealing(), steps=2000, key=jax.random.PRNGKey(1))
        result.summary["final_error"]        # relative L2 error after 2000 steps
        result.history["error"]              # the error after every chunk (500 steps)
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
) -> Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure training step ``state -> (state, metrics)`` (jit it, or scan it).

    ``net`` gives the static (non-trainable) part of the network; its parameters come
    from the state.
    """
    sampler = sampler or uniform(problem.domain)
    net = attach_coefficients(problem.coefficients, net)
    _, static = eqx.partition(net, eqx.is_inexact_array)
    optimizer = optax.with_extra_args_support(optimizer)

    def step(state: TrainState):
        key, sub = jax.random.split(state.key)
        if fixed_from is not None:  # stop advancing the key: the same points from then on
            key = jnp.where(state.step >= fixed_from, state.key, key)
        pts = sample_points(problem, sub, sizes, lambda k, n: sampler.draw(state.sampler_state, k, n))
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
        value_fn = total_loss_fn(problem, static, jax.lax.stop_gradient(lam), pts)
        updates, opt_state = optimizer.update(
            total_grad, state.opt_state, state.params, value=value, grad=total_grad, value_fn=value_fn
        )
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": value,
            **{f"loss_{k}": v for k, v in losses.items()},
            **{f"lambda_{g}": lam[g] for g in terms_of(problem)},
        }
        new = TrainState(params, opt_state, bstate, key, state.step + 1, state.sampler_state)
        return new, metrics

    return step


@dataclass
class _Compiled:
    """The jitted pieces `fit` runs: a chunk of steps, the sampler refresh, the chunk metrics."""

    run_chunk: Callable
    refresh_sampler: Callable
    error_of: Callable
    stats_of: Callable


def _compile(problem, static, step_fn, sampler: Sampler, key, sizes) -> _Compiled:
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

    @functools.partial(jax.jit, static_argnums=1)
    def run_chunk(state: TrainState, length: int):
        return jax.lax.scan(lambda s, _: step_fn(s), state, None, length=length)

    @jax.jit
    def error_of(params):
        return relative_l2(problem.observe(eqx.combine(params, static), ref_pts), ref_vals)

    @jax.jit
    def stats_of(params, step):
        _, grads = term_gradients(problem, static, params, jax.random.fold_in(stats_key, step), sizes)
        kernels = {name: g.main_kernels() for name, g in grads.items()}
        return gradient_summary(kernels, problem.groups), kernels

    return _Compiled(run_chunk, refresh_sampler, error_of, stats_of)


def _chunk_length(done: int, steps: int, chunk_size: int, callbacks: Sequence[Callback]) -> int:
    """Steps in the next chunk: at most ``chunk_size``, ending where a callback is due."""
    length = min(chunk_size, steps - done)
    for cb in callbacks:
        nxt = cb.next_due(done)
        if nxt is not None and done < nxt < done + length:
            length = nxt - done
    return length


def _check_finite(loss: np.ndarray, done: int) -> None:
    if not np.all(np.isfinite(loss)):
        bad = done + int(np.argmin(np.isfinite(loss)))
        raise DivergenceError(
            f"training diverged: the loss became {loss[bad - done]} at step {bad}. "
            f"The last good state (step {done}) was kept. "
            "Try a smaller learning rate, `--x64`, or check the residual."
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
    fixed_from: int | None = None,
    callbacks: Sequence[Callback] = (),
    state: TrainState | None = None,
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
    - ``fixed_from``: from this step on, keep the step's points fixed (for L-BFGS; 0: always);
    - ``callbacks``: `pinnsight.callbacks.Callback` objects (run folder, progress bar, ...);
    - ``state``: resume from this `TrainState` (its ``step`` counts towards ``steps``).

    Example:
        >>> result = ps.fit(problem, net, ps.annealing(), steps=3000, key=jax.random.PRNGKey(1))
        >>> result.summary["final_error"]  # doctest: +SKIP

    Raises:
        ValueError: bad sizes or step counts, or a network that does not fit the problem.
        DivergenceError: a loss became NaN/inf; the callbacks' ``on_end`` saw the last
            good state with status ``"diverged"``.
    """
    steps, chunk_size = int(steps), int(chunk_size)
    if steps < 1:
        raise ValueError(f"`steps` must be a positive number of steps, got steps = {steps}.")
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size}.")
    sizes = batch_sizes(problem, batch_size)
    net = attach_coefficients(problem.coefficients, net)  # trainable PDE coefficients, if any
    check_network(net, problem.domain.dim, problem.output_dim)
    problem.check(net)
    balancer, optimizer = balancer or fixed(), optimizer or paper_optimizer()
    sampler = sampler or uniform(problem.domain)
    _, static = eqx.partition(net, eqx.is_inexact_array)
    if state is None:
        state = init_state(problem, net, optimizer, balancer, sampler, key)
    if fixed_from is not None and int(fixed_from) < 0:
        raise ValueError(f"`fixed_from` must be a step >= 0 or None, got fixed_from = {fixed_from}.")
    step_fn = make_step(problem, net, optimizer, balancer, sizes, sampler, fixed_from=fixed_from)
    compiled = _compile(problem, static, step_fn, sampler, key, sizes)
    ctx = FitContext(problem, static, state, steps, sizes, key, done=int(state.step))
    return _loop(ctx, compiled, chunk_size, list(callbacks))


def _loop(ctx: FitContext, compiled: _Compiled, chunk_size: int, callbacks: list[Callback]) -> FitResult:
    """Run chunks until ``ctx.steps``; callbacks between chunks; summary at the end."""
    history: dict[str, list[float]] = {}
    t_start, train_time, status = time.perf_counter(), 0.0, "finished"
    start = ctx.done
    try:
        if callbacks:
            _, ctx.probe = compiled.stats_of(ctx.state.params, ctx.done)
        for cb in callbacks:
            cb.on_start(ctx)
        while ctx.done < ctx.steps:
            state = compiled.refresh_sampler(ctx.state)  # a no-op for the uniform sampler
            length = _chunk_length(ctx.done, ctx.steps, chunk_size, callbacks)
            t0 = time.perf_counter()
            new_state, metrics = compiled.run_chunk(state, length)
            loss = np.asarray(metrics["loss"])
            train_time += time.perf_counter() - t0
            try:
                _check_finite(loss, ctx.done)
            except DivergenceError:
                status = "diverged"
                raise
            ctx.state, ctx.done = new_state, ctx.done + length
            row = _row(ctx, compiled, metrics, length, t0, t_start)
            for k, v in row.items():
                history.setdefault(k, []).append(v)
            for cb in callbacks:
                cb.on_chunk(ctx, row)
    except BaseException:
        status = status if status == "diverged" else "interrupted"
        raise
    finally:
        wall = time.perf_counter() - t_start
        summary = _summary(ctx.problem, status, ctx.done, history, wall, train_time)
        summary["start_step"] = start
        for cb in callbacks:
            cb.on_end(ctx, summary)
    return FitResult(
        net=ctx.net, history={k: np.asarray(v) for k, v in history.items()}, summary=summary, state=ctx.state
    )


def _row(ctx: FitContext, compiled: _Compiled, metrics, length: int, t0: float, t_start: float):
    """The metrics row of a finished chunk: last step's metrics, error, gradient imbalance, times."""
    row: dict[str, float] = {"step": ctx.done}
    row.update({k: float(np.asarray(v)[-1]) for k, v in metrics.items()})
    row.update({f"coef_{k}": v for k, v in coefficient_values(ctx.net).items()})
    row["error"] = float(compiled.error_of(ctx.state.params))
    stats, ctx.probe = compiled.stats_of(ctx.state.params, ctx.done)
    row.update({k: float(v) for k, v in stats.items()})
    row["wall_time"] = time.perf_counter() - t_start
    row["steps_per_s"] = length / max(time.perf_counter() - t0, 1e-9)
    return row
