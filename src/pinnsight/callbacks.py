r"""Callbacks: what runs between compiled chunks of `fit` (files, progress, logging).

`fit` itself writes nothing. Between chunks it hands a `FitContext` (the problem, the
network's static part, the current `TrainState`, the step, the latest probe gradients)
and the chunk's metrics row to each callback, in order. A callback never changes
training: it may read the state, draw its own points from keys of its own, and write files.

Hooks (all optional; subclass `Callback` and override what you need):

- ``on_start(ctx)`` before the first chunk (step 0 or, when resuming, the resumed step);
- ``on_chunk(ctx, row)`` after every chunk, ``row`` = ``{"step": ..., "loss": ..., ...}``;
- ``on_end(ctx, summary)`` once at the end, whatever the status (finished, diverged,
  interrupted); ``summary["status"]`` says which;
- ``next_due(done) -> int | None``: the next step at which this callback needs a chunk
  boundary (diagnostics at fixed steps), or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

__all__ = ["Callback", "FitContext", "ProgressBar", "TensorBoard", "LambdaCallback"]


@dataclass
class FitContext:
    """What `fit` shows its callbacks (read only by convention)."""

    problem: Any
    static: Any
    state: Any
    steps: int
    sizes: dict[str, int]
    key: Any
    done: int = 0
    probe: dict[str, Any] | None = None
    """Kernel gradients per term at the current parameters (probe points), if computed."""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def net(self):
        """The current network (parameters combined with the static part)."""
        import equinox as eqx

        return eqx.combine(self.state.params, self.static)


class Callback:
    """Base class with empty hooks (see the module docstring)."""

    def on_start(self, ctx: FitContext) -> None:
        pass

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        pass

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        pass

    def next_due(self, done: int) -> int | None:
        return None


class LambdaCallback(Callback):
    """``on_chunk(steps_in_chunk, row)`` as a plain function (progress of a worker, say)."""

    def __init__(self, on_chunk):
        self._fn = on_chunk
        self._last = 0

    def on_start(self, ctx: FitContext) -> None:
        self._last = ctx.done

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        self._fn(ctx.done - self._last, row)
        self._last = ctx.done


class ProgressBar(Callback):
    """A tqdm bar: steps, loss, error, λ per term and one rate (steps/s of training alone)."""

    def __init__(self, desc: str | None = None, disable: bool = False):
        self.desc = desc
        self.disable = disable
        self.bar = None

    def on_start(self, ctx: FitContext) -> None:
        self.bar = tqdm(
            total=ctx.steps,
            initial=ctx.done,
            disable=self.disable,
            desc=self.desc or ctx.problem.name,
            unit="step",
            smoothing=0.1,
        )
        self._last = ctx.done

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        post = {"loss": f"{row['loss']:.2e}", "err": f"{row['error']:.2e}"}
        for k, v in row.items():
            if k.startswith("lambda_") and k != "lambda_residual":
                post["λ" + k[len("lambda_") :]] = f"{v:.3g}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(ctx.done - self._last)
        self._last = ctx.done

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()


class TensorBoard(Callback):
    """Scalars of every chunk row (losses, λ, error, imbalance, rate) as TensorBoard events.

    Needs the optional extra ``pip install "pinnsight[tensorboard]"`` (tensorboardX).
    ``tensorboard --logdir DIR`` then shows them, grouped by prefix (``loss/…``, ``lambda/…``).
    """

    def __init__(self, logdir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as err:  # pragma: no cover - depends on the extra
            raise ImportError(
                'the TensorBoard callback needs tensorboardX: pip install "pinnsight[tensorboard]"'
            ) from err
        self._writer_cls = SummaryWriter
        self.logdir = str(logdir)
        self.writer = None

    def on_start(self, ctx: FitContext) -> None:
        self.writer = self._writer_cls(self.logdir)

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        for k, v in row.items():
            if k == "step":
                continue
            prefix, _, rest = k.partition("_")
            tag = (
                f"{prefix}/{rest}"
                if rest and prefix in ("loss", "lambda", "imbalance", "gmax", "gmean")
                else k
            )
            self.writer.add_scalar(tag, v, global_step=int(row["step"]))

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
