r"""The compiled training step and the training loop.

One step (PAPER §3, eq. 42), all inside ``jit``:

1. fresh uniform points for the residual and each condition (keys split in the step);
2. $\mathcal{L}_r$ and each group loss $\mathcal{L}_g$ with their gradients (one
   `jax.value_and_grad` per term: the terms live on different points, so this costs
   the same as one gradient of the sum);
3. the balancer updates $\lambda_g$ from the kernel gradients;
4. Adam applies $\nabla\mathcal{L}_r + \sum_g \lambda_g \nabla\mathcal{L}_g$.

Steps run in `jax.lax.scan` chunks; Python only loops over chunks, logging metrics,
checking for NaN and updating the progress bar between them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from . import runio
from .diagnostics import gradient_summary
from .losses import batch_sizes, relative_l2, term_gradients
from .problem import Problem
from .sampling import Sampler, uniform
from .weighting import Balancer, fixed

__all__ = ["TrainState", "FitResult", "DivergenceError", "fit", "paper_optimizer", "make_step"]


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss; the last good state was kept."""


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    balancer_state: Any
    key: jax.Array
    step: jax.Array
    sampler_state: Any = ()


@dataclass
class FitResult:
    """What `fit` returns: the trained network, the logged history and a summary."""

    net: Any
    history: dict[str, np.ndarray]
    summary: dict[str, Any]
    state: TrainState | None = field(default=None, repr=False)


def paper_optimizer(
    learning_rate: float = 1e-3, decay_rate: float = 0.9, decay_steps: int = 1000
) -> optax.GradientTransformation:
    r"""Adam with $\eta(t) = \eta_0\,\gamma^{t/T}$ (smooth, not staircase), PAPER §5."""
    schedule = optax.exponential_decay(learning_rate, decay_steps, decay_rate)
    return optax.adam(schedule)


def make_step(
    problem: Problem,
    static,
    optimizer: optax.GradientTransformation,
    balancer: Balancer,
    sizes: dict[str, int],
    sampler: Sampler | None = None,
) -> Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure training step ``state -> (state, metrics)`` (jit it, or scan it)."""
    sampler = sampler or uniform(problem.domain)

    def step(state: TrainState):
        key, sub = jax.random.split(state.key)

        def draw(k, n):
            return sampler.draw(state.sampler_state, k, n)

        losses, grads = term_gradients(problem, static, state.params, sub, sizes, draw)
        kernels = {name: g.main_kernels() for name, g in grads.items()}
        bstate = balancer.update(
            kernels["residual"],
            {g: kernels[g] for g in problem.groups},
            state.balancer_state,
            step=state.step,
        )
        lam = bstate.weights
        total_grad = grads["residual"]
        for g in problem.groups:
            total_grad = jax.tree_util.tree_map(lambda a, b, w=lam[g]: a + w * b, total_grad, grads[g])
        updates, opt_state = optimizer.update(total_grad, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        group_loss = {
            g: sum(losses[c] for c in problem.conditions if problem.group_of(c) == g) for g in problem.groups
        }
        metrics = {
            "loss": losses["residual"] + sum(lam[g] * group_loss[g] for g in problem.groups),
            **{f"loss_{k}": v for k, v in losses.items()},
            **{f"lambda_{g}": lam[g] for g in problem.groups},
        }
        return TrainState(params, opt_state, bstate, key, state.step + 1, state.sampler_state), metrics

    return step


def fit(
    problem: Problem,
    net: eqx.Module,
    balancer: Balancer | None = None,
    *,
    steps: int,
    key: jax.Array,
    batch_size: int | dict[str, int] = 128,
    optimizer: optax.GradientTransformation | None = None,
    sampler: Sampler | None = None,
    chunk_size: int = 500,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    config: dict[str, Any] | None = None,
    progress: bool = True,
    on_chunk: Callable[[int, dict[str, float]], None] | None = None,
    recorders: tuple = (),
    checkpoint_every: int = 5000,
) -> FitResult:
    r"""Train a PINN: minimise $\mathcal{L}_r + \sum_g\lambda_g\mathcal{L}_g$ for ``steps`` steps.

    **Main arguments:**

    - ``problem``: the `Problem`.
    - ``net``: an Equinox module mapping one point ``(d,)`` to ``(m,)`` with a
      ``main_kernels()`` method (`MLP`, `ModifiedMLP`).
    - ``balancer``: a `Balancer` (default: fixed weights 1, i.e. M1/M3).
    - ``steps``: number of optimiser steps (> 0).
    - ``key``: PRNG key for the collocation points.

    **Other arguments:**

    - ``batch_size``: points per sampler per step (one int, or per term name).
    - ``optimizer``: an optax transformation (default `paper_optimizer`).
    - ``sampler``: where the residual points come from (`pinnsight.sampling`; default
      `uniform`, the paper's). An adaptive sampler is refreshed between chunks.
    - ``chunk_size``: steps per compiled `lax.scan` call; metrics, the error on the
      reference, NaN checks and the progress bar update between chunks.
    - ``out_dir``: run folder for ``metrics.csv``, ``model.eqx``, ``config.json``,
      ``summary.json``; refused if it already holds a run unless ``overwrite``.
    - ``recorders``: diagnostics recorders called between chunks (see
      `pinnsight.diagnostics`); they draw their own points and never change training.

    Raises:
        ValueError: bad sizes or step counts.
        FileExistsError: ``out_dir`` holds a run and ``overwrite`` is false.
        DivergenceError: a loss became NaN/inf; the last good state is written to
            ``out_dir/model.eqx`` and the message names the step.
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"`steps` must be a positive number of steps, got steps = {steps}.")
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size}.")
    sizes = batch_sizes(problem, batch_size)
    problem.check(net)
    balancer = balancer or fixed()
    optimizer = optimizer or paper_optimizer()
    sampler = sampler or uniform(problem.domain)
    run = runio.RunFolder.create(out_dir, overwrite=overwrite) if out_dir is not None else None

    params, static = eqx.partition(net, eqx.is_inexact_array)
    state = TrainState(
        params=params,
        opt_state=optimizer.init(params),
        balancer_state=balancer.init(problem.groups),
        key=key,
        step=jnp.asarray(0, dtype=jnp.int32),
        sampler_state=sampler.init(),
    )
    step_fn = make_step(problem, static, optimizer, balancer, sizes, sampler)
    refresh_key = jax.random.fold_in(key, 0x5A4D)

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

    ref = problem.reference_data
    ref_pts = jnp.asarray(ref.points, dtype=jnp.result_type(float))
    ref_vals = jnp.asarray(ref.values, dtype=jnp.result_type(float))

    @jax.jit
    def error_of(params):
        return relative_l2(problem.observe(eqx.combine(params, static), ref_pts), ref_vals)

    stats_key = jax.random.fold_in(key, 0x57A7)

    @jax.jit
    def stats_of(params, step):
        _, grads = term_gradients(problem, static, params, jax.random.fold_in(stats_key, step), sizes)
        kernels = {name: g.main_kernels() for name, g in grads.items()}
        return gradient_summary(kernels, problem.groups), kernels

    if run is not None:
        run.write_json("config.json", config or {"problem": problem.name, "steps": steps})
    history: dict[str, list[float]] = {}
    bar = tqdm(total=steps, disable=not progress, desc=problem.name, unit="step", smoothing=0.1)
    t_start = time.perf_counter()
    train_time = 0.0
    done = 0
    status = "finished"
    try:
        if recorders:
            _, probe = stats_of(state.params, 0)
            for rec in recorders:
                rec(0, state, static, probe)
        while done < steps:
            state = refresh_sampler(state)  # a no-op for the uniform sampler
            length = min(chunk_size, steps - done)
            for rec in recorders:
                nxt = rec.next_due(done)
                if nxt is not None and done < nxt < done + length:
                    length = nxt - done
            t0 = time.perf_counter()
            new_state, metrics = run_chunk(state, length)
            loss = np.asarray(metrics["loss"])
            train_time += time.perf_counter() - t0
            if not np.all(np.isfinite(loss)):
                bad = done + int(np.argmin(np.isfinite(loss)))
                status = "diverged"
                msg = (
                    f"training diverged: the loss became {loss[bad - done]} at step {bad}. "
                    f"The last good state (step {done}) was kept"
                )
                if run is not None:
                    run.save_model(eqx.combine(state.params, static))
                    msg += f" in {run.path / 'model.eqx'}"
                raise DivergenceError(msg + ". Try a smaller learning rate, `--x64`, or check the residual.")
            state = new_state
            done += length
            row = {"step": done}
            row.update({k: float(np.asarray(v)[-1]) for k, v in metrics.items()})
            row["error"] = float(error_of(state.params))
            stats, probe = stats_of(state.params, done)
            row.update({k: float(v) for k, v in stats.items()})
            row["wall_time"] = time.perf_counter() - t_start
            row["steps_per_s"] = length / max(time.perf_counter() - t0, 1e-9)
            for k, v in row.items():
                history.setdefault(k, []).append(v)
            if run is not None:
                run.append_metrics(row)
                if checkpoint_every and done % checkpoint_every < length:
                    run.save_model(eqx.combine(state.params, static))
            for rec in recorders:
                rec(done, state, static, probe)
            bar.set_postfix(_postfix(row), refresh=False)
            bar.update(length)
            if on_chunk is not None:
                on_chunk(length, row)
    except BaseException:
        status = status if status == "diverged" else "interrupted"
        raise
    finally:
        bar.close()
        wall = time.perf_counter() - t_start
        final_net = eqx.combine(state.params, static)
        summary = {
            "problem": problem.name,
            "status": status,
            "steps": done,
            "final_error": history["error"][-1] if history.get("error") else None,
            "final_loss": history["loss"][-1] if history.get("loss") else None,
            "wall_time_s": wall,
            "train_time_s": train_time,
            "steps_per_s": done / train_time if train_time > 0 else None,
            "final_lambda": {
                g: history[f"lambda_{g}"][-1] for g in problem.groups if f"lambda_{g}" in history
            },
        }
        if run is not None:
            if status != "diverged":
                run.save_model(final_net)
            run.write_json("summary.json", summary)
    return FitResult(
        net=final_net,
        history={k: np.asarray(v) for k, v in history.items()},
        summary=summary,
        state=state,
    )


def _postfix(row: dict[str, float]) -> dict[str, str]:
    out = {"loss": f"{row['loss']:.2e}", "err": f"{row['error']:.2e}"}
    for k, v in row.items():
        if k.startswith("lambda_"):
            out["λ" + k[len("lambda_") :]] = f"{v:.3g}"
    out["it/s"] = f"{row['steps_per_s']:.0f}"
    return out
