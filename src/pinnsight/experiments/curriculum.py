r"""Curricula: a run in stages, each warm-started from the previous stage's network.

A stiff problem is often trained more easily along a path of easier ones: the lid-driven
cavity at $Re = 1000$ after $Re = 100$ and $400$ (S. Wang, S. Sankaran, H. Wang,
P. Perdikaris, "An expert's guide to training physics-informed neural networks",
arXiv:2308.08468, §4.6 and the ``ldc`` example of github.com/PredictiveIntelligenceLab/jaxpi;
the same "sequence-to-sequence"/continuation idea as A. Krishnapriyan et al.,
"Characterizing possible failure modes in physics-informed neural networks", NeurIPS 2021).

**The key.** ``run.curriculum`` holds one parameter of the problem with a ladder of values
and the steps trained at each, e.g.

```text
run.curriculum = {"Re": (100, 400, 1000), "steps": (20000, 20000, 30000)}
```

The ladder leads *to* the run's own value of that parameter (``problem.params``, the
target $p^\ast$): the stages are the ladder values that come before $p^\ast$ (below it for
an increasing ladder, above it for a decreasing one; a single value comes before any other
target), each trained for its ``steps``, and then the target itself, trained for
``run.steps``. With the ladder above, ``Re = 100`` is one stage (no curriculum), ``Re = 400``
is 100 → 400 and ``Re = 1000`` or ``Re = 3200`` are 100 → 400 → 1000 → $p^\ast$ minus the
values not below it. The run's error is the final stage's, against the reference at
$p^\ast$; the run lasts `total_steps` steps.

**A learning rate per stage** (optional): ``"learning_rate": (1e-3, 1e-3, 1e-4)``, one
per ladder value, is the initial learning rate $\eta_0$ of the stage at that value (the
option ``optim.learning_rate`` of that stage's optimiser, whatever its kind); the target's
stage takes the ladder's value if the target is on the ladder, ``optim.learning_rate``
otherwise. Without it every stage starts at ``optim.learning_rate``. A warm start is easily
lost to a stage that restarts its schedule high: the cavity's Re = 1000 stage of ``best``,
started at 1e-3 from a network within 0.039 of the Re = 400 flow, ends at 0.434; started at
1e-4, at 0.113 (docs/RESULTS.md §10).

**A batch per stage** (optional): ``"batch_size": (None, None, {"residual": 512})``, one
per ladder value, is the batch of the stage at that value (points per step): an int for
every term, a dict for the terms it names (the others keep ``sampling.batch_size``), None
for ``sampling.batch_size``; the target's stage takes it as it takes the learning rate.
(A batch too large for the machine's memory is refused when its stage starts.) A stage
with more points costs more per step; spend them where the flow is hardest: the cavity's
Re = 1000 stage with 512 residual points ends at 0.157 / 0.094 against 0.193 / 0.120 with
128 (two seeds, docs/RESULTS.md §10).

**Loss weights per stage** (optional): ``"weighting": (None, None, {"kind": "fixed",
"weights": {"bc": 10.0}})``, one table (or None) per ladder value, gives the stage at that
value its own balancer: a table with ``kind`` replaces the run's ``weighting`` section (that
kind with the options given; ``freeze_from`` kept unless given), one without it replaces
the options it names of the run's balancer (each whole: ``{"weights": {"bc": 10.0}}`` leaves
every other term at 1); None keeps ``weighting``. The target's stage takes it as it
takes the learning rate. A balancer that rebalances by gradient norms (``grad_norm``) can
drive a boundary weight far up once the walls are learned (the cavity's λ_bc passes 100 at
Re = 1000, docs/RESULTS.md §10); a fixed weight holds the balance where it is set.

**Problem parameters of the run's own stage** (optional): ``"final_params": ({"singular_corners":
True, "singular_radius": 0.2}, None, None)``, one table (or None) per ladder value, adds
those parameters of the problem to the *last* stage of a run whose target is that value, and
to no earlier stage of any run: a choice that pays when the run ends there but not as a warm
start for the next value. The run's own ``problem.params`` win over them (set a key to
override it). The cavity's ``best`` uses it for Taylor's corner flow, which takes a run ending
at Re = 100 from 2.85e-2 to 5.61e-3 (3-seed medians; radius 0.3) but, in every stage of a run through
Re = 100 to Re = 1000, that run from 0.0803 / 0.194 to 0.139 / 0.199 (seeds 0 / 1;
docs/RESULTS.md §10).

**A stage** $k$ trains steps $s_k+1, \dots, e_k$ of the run's one step counter
(``metrics.csv``, checkpoints and diagnostics count the run's steps). It starts from the
network of stage $k-1$ (its parameters $\theta_{e_{k-1}}$) with a *fresh* optimiser state
(so the learning-rate schedule, Adam's moments and an Adam → L-BFGS switch start again),
a fresh balancer state (weights $\lambda_i = $ their initial values, re-balanced at the new
parameter within ``weighting.every`` steps) and a fresh sampler state, and with the
stage's own key, ``fold_in(key, k)`` (stage 0 uses the run's key, so a run without a
curriculum is exactly what it was). Inside a stage, every step-dependent setting counts
from the stage's start: the balancer sees $t - s_k$ (``weighting.every``,
``weighting.freeze_from``), and ``sampling.fixed_from`` applies from $s_k +$ ``fixed_from``.
Each stage is thus exactly a run of its own at its parameter value, warm-started — the
warm start of jaxpi's curriculum, which also re-creates the optimiser per stage.

**Records.** Each metrics row of a run with stages carries ``stage`` and
``stage_<param>``; ``summary.json`` gets ``stages``: per stage its parameter, steps, the
error at its end against the reference *at its parameter value*, final loss, λ,
gradient imbalance and, if recorded, the last $\sigma_{\max}$. The records of finished
stages are kept in ``stages.json`` as the run goes, so a run killed anywhere resumes
mid-curriculum bit for bit (`run_stages`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ..callbacks import Callback, FitContext
from ..problems import check_params, problem_defaults
from ..train import FitResult, TrainState, init_state
from ..weighting import Balancer

if TYPE_CHECKING:  # pragma: no cover
    from ..problem import Problem
    from .config import RunConfig

__all__ = [
    "Stage",
    "STAGES_FILE",
    "check_curriculum",
    "stages_of",
    "final_params",
    "run_problem",
    "total_steps",
    "stage_key",
    "stage_balancer",
    "stage_fixed_from",
    "warm_start",
    "StageRecorder",
    "StageRecords",
    "run_stages",
]

STAGES_FILE = "stages.json"
"""The records of the finished stages of a run folder (written after each stage)."""

KEY = "run.curriculum"
EXAMPLE = "run.curriculum={'Re': (100, 400), 'steps': (20000, 20000)}"
PER_STAGE = ("learning_rate", "batch_size", "weighting", "final_params")
"""The optional per-value settings of a ladder besides ``steps`` (module docstring)."""


@dataclass(frozen=True)
class Stage:
    """One stage of a run: ``index`` (0, 1, ...), the problem's ``params`` in it, the run's
    step ``start`` it begins after and the ``steps`` it trains; ``name``/``value`` are the
    curriculum's parameter and its value here (None without a curriculum); ``count`` is the
    number of stages of the run."""

    index: int
    params: dict[str, Any]
    start: int
    steps: int
    count: int = 1
    name: str | None = None
    value: float | None = None
    learning_rate: float | None = None
    """The stage's initial learning rate (the ladder's ``learning_rate``); None: ``optim.learning_rate``."""
    batch_size: int | dict[str, int] | None = None
    """The stage's points per step (the ladder's ``batch_size``); None: ``sampling.batch_size``."""
    weighting: dict[str, Any] | None = None
    """The stage's own ``weighting`` keys (the ladder's ``weighting``); None: the run's."""
    rung: int | None = None
    """The stage's position on the ladder (its entry in ``steps``, ``learning_rate``, ...);
    None for a target that is not on it."""

    @property
    def end(self) -> int:
        """The run's step at which the stage ends."""
        return self.start + self.steps

    @property
    def final(self) -> bool:
        """True for the last stage (the run's own problem)."""
        return self.index == self.count - 1

    @property
    def columns(self) -> dict[str, float]:
        """The constant columns of its metrics rows (none for a run of one stage)."""
        if self.count == 1 or self.name is None:
            return {}
        return {"stage": float(self.index), f"stage_{self.name}": float(self.value)}

    def label(self, problem: str) -> str:
        """``"cavity Re=400 [2/3]"`` (progress bars); the problem's name alone for one stage."""
        if self.count == 1 or self.name is None:
            return problem
        return f"{problem} {self.name}={self.value:g} [{self.index + 1}/{self.count}]"


def _bad(text: str) -> ValueError:
    return ValueError(f"`{KEY}` {text}")


def check_curriculum(spec: Mapping[str, Any], problem: str) -> None:
    """Refuse a bad ``run.curriculum`` of ``problem`` with one line naming the key: exactly
    one numeric parameter of the problem besides ``steps``, a non-empty strictly monotonic
    ladder of valid values, and one positive integer step count per value. ``{}``: none."""
    if not spec:
        return
    defaults = problem_defaults(problem)
    names = sorted(set(spec) - {"steps", *PER_STAGE})
    if "steps" not in spec:
        raise _bad(f"needs `steps`, one step count per value, e.g. {EXAMPLE}.")
    if len(names) != 1:
        raise _bad(
            f"must name exactly one parameter of problem {problem!r} besides `steps` "
            f"(parameters: {', '.join(defaults)}), got {names or 'none'}."
        )
    name = names[0]
    if name not in defaults:
        raise _bad(
            f"names {name!r}, not a parameter of problem {problem!r} (parameters: {', '.join(defaults)})."
        )
    default = defaults[name]
    if isinstance(default, bool) or not isinstance(default, int | float):
        raise _bad(
            f"names {name!r}, which is not a number (default {default!r}); a curriculum moves a number."
        )
    values, steps = tuple(spec[name]), tuple(spec["steps"])
    if not values:
        raise _bad(f"has no values of {name!r}; give at least one (or {KEY}={{}} for no curriculum).")
    if len(steps) != len(values):
        raise _bad(
            f"has {len(values)} value(s) of {name!r} but {len(steps)} `steps`; give one step count per value."
        )
    for s in steps:
        if isinstance(s, bool) or not isinstance(s, int | float) or not float(s).is_integer() or s < 1:
            raise _bad(f"has steps = {steps!r}; each must be a positive integer.")
    _check_learning_rates(spec, name, len(values))
    _check_batch_sizes(spec, name, len(values))
    _check_weightings(spec, name, len(values))
    _check_final_params(spec, name, problem, len(values))
    for v in values:
        try:
            check_params(problem, {name: v})
        except ValueError as err:
            raise _bad(f"value {v!r} of {name!r}: {err}") from None
    rising = [b > a for a, b in zip(values, values[1:], strict=False)]
    falling = [b < a for a, b in zip(values, values[1:], strict=False)]
    if not (all(rising) or all(falling)):
        raise _bad(
            f"values of {name!r} must be strictly increasing or decreasing (a path to the "
            f"target), got {values!r}."
        )


def _per_value(spec: Mapping[str, Any], key: str, name: str, count: int, what: str) -> tuple:
    """The ladder's ``key`` entries, refused unless there is one per value of ``name``
    (``what``: how one is described in the error); ``()`` without ``key``."""
    if key not in spec:
        return ()
    entries = tuple(spec[key])
    if len(entries) != count:
        raise _bad(
            f"has {count} value(s) of {name!r} but {len(entries)} `{key}`; give one {what} "
            f"per value (or leave `{key}` out)."
        )
    return entries


def _check_learning_rates(spec: Mapping[str, Any], name: str, count: int) -> None:
    """Refuse a ``learning_rate`` ladder that is not one positive finite number per value."""
    rates = _per_value(spec, "learning_rate", name, count, "initial learning rate")
    for r in rates:
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r < math.inf:
            raise _bad(f"has learning_rate = {rates!r}; each must be a positive finite number.")


def _check_batch_sizes(spec: Mapping[str, Any], name: str, count: int) -> None:
    """Refuse a ``batch_size`` ladder that is not one batch (None, a positive int, or a
    non-empty dict of term names to positive ints) per value; the term names are checked
    against the problem when the run is built (`pinnsight.losses.batch_sizes`)."""
    sizes = _per_value(spec, "batch_size", name, count, "batch (None: sampling.batch_size)")

    def positive(n: Any) -> bool:
        return not isinstance(n, bool) and isinstance(n, int) and n >= 1

    for b in sizes:
        per_term = (
            isinstance(b, Mapping)
            and len(b) > 0
            and all(isinstance(k, str) and positive(n) for k, n in b.items())
        )
        if not (b is None or positive(b) or per_term):
            raise _bad(
                f"has batch_size = {sizes!r}; each must be None, a positive integer or "
                "a non-empty {term: positive integer}, e.g. {'residual': 512}."
            )


def _check_weightings(spec: Mapping[str, Any], name: str, count: int) -> None:
    """Refuse a ``weighting`` ladder that is not one entry (None, or a non-empty table of
    ``weighting`` keys) per value; the kind and options are checked with the config
    (`pinnsight.experiments.config.stage_weighting`)."""
    entries = _per_value(spec, "weighting", name, count, "table of weighting keys (or None)")
    for e in entries:
        if e is not None and (not isinstance(e, Mapping) or not e or not all(isinstance(k, str) for k in e)):
            raise _bad(
                f"has weighting = {entries!r}; each must be None or a non-empty table of "
                "`weighting` keys, e.g. {'kind': 'fixed', 'weights': {'bc': 10.0}}."
            )


def _check_final_params(spec: Mapping[str, Any], name: str, problem: str, count: int) -> None:
    """Refuse a ``final_params`` ladder that is not one entry (None, or a table of the
    problem's parameters other than ``name``, with valid values) per value."""
    entries = _per_value(spec, "final_params", name, count, "table of parameters (or None)")
    for e in entries:
        if e is None:
            continue
        if not isinstance(e, Mapping) or not e:
            raise _bad(
                f"has final_params = {entries!r}; each must be None or a non-empty table "
                "of the problem's parameters, e.g. {'grid': 200}."
            )
        if name in e:
            raise _bad(f"has {name!r} in final_params; the ladder sets it, leave it out.")
        try:
            check_params(problem, dict(e))
        except ValueError as err:
            raise _bad(f"final_params {dict(e)!r}: {err}") from None


def _precedes(values: Sequence[float], v: float, target: float) -> bool:
    """Whether ladder value ``v`` comes before ``target`` (module docstring)."""
    if len(values) == 1:
        return not math.isclose(v, target, rel_tol=1e-12, abs_tol=0.0)
    return v < target if values[-1] > values[0] else v > target


def _ladder(config: RunConfig) -> tuple[str, list[float], float, int | None]:
    """The curriculum's parameter, its ladder values, the run's target value and the rung
    the target is on (None: off the ladder); the config must have a curriculum."""
    problem, spec = config.problem.name, config.run.curriculum
    name = next(k for k in spec if k not in ("steps", *PER_STAGE))
    params = {**problem_defaults(problem), **dict(config.problem.params)}
    target = float(check_params(problem, params)[name])
    values = [float(v) for v in spec[name]]
    rungs = [k for k, v in enumerate(values) if math.isclose(v, target, rel_tol=1e-12)]
    return name, values, target, rungs[0] if rungs else None


def stages_of(config: RunConfig) -> list[Stage]:
    """The stages of ``config``: the ladder values before the target, then the target
    (``run.steps`` steps) with its rung's ``final_params``. One stage without a curriculum."""
    problem = config.problem.name
    params = check_params(problem, dict(config.problem.params))
    spec = config.run.curriculum
    if not spec:
        return [Stage(0, params, 0, config.run.steps)]
    name, values, target, rung = _ladder(config)
    rates = [None if r is None else float(r) for r in spec.get("learning_rate", [None] * len(values))]
    batches = list(spec.get("batch_size", [None] * len(values)))
    weightings = list(spec.get("weighting", [None] * len(values)))
    ladder = list(zip(values, spec["steps"], rates, batches, weightings, strict=True))
    plan = [(v, int(n), *own, k) for k, (v, n, *own) in enumerate(ladder) if _precedes(values, v, target)]
    own = (None, None, None) if rung is None else (rates[rung], batches[rung], weightings[rung])
    plan.append((target, config.run.steps, *own, rung))
    last = check_params(problem, {**final_params(config), **params})
    stages, start = [], 0
    for i, (v, n, r, b, w, k) in enumerate(plan):
        stage_params = last if i == len(plan) - 1 else {**params, name: v}
        batch = dict(b) if isinstance(b, Mapping) else b
        weighting = None if w is None else dict(w)
        stages.append(Stage(i, stage_params, start, n, len(plan), name, v, r, batch, weighting, k))
        start += n
    return stages


def final_params(config: RunConfig) -> dict[str, Any]:
    """The ladder's ``final_params`` at the run's target (module docstring): the problem
    parameters its last stage adds below the run's own ``problem.params``; ``{}`` if the
    target is not on the ladder or the ladder has none."""
    spec = config.run.curriculum
    if not spec or "final_params" not in spec:
        return {}
    rung = _ladder(config)[3]
    table = {} if rung is None else spec["final_params"][rung] or {}
    return {k: v for k, v in table.items() if k not in config.problem.params}


def run_problem(config: RunConfig) -> Problem:
    """The run's own problem (its last stage's): ``problem.params`` over `final_params`. A
    problem that refuses the two together says which keys the ladder added."""
    from ..problems import get_problem

    final = final_params(config)
    try:
        return get_problem(config.problem.name, **final, **config.problem.params)
    except ValueError as err:
        if not final:
            raise
        added = ", ".join(f"{k}={v!r}" for k, v in final.items())
        raise ValueError(
            f"{err} (`run.curriculum` final_params add {added} to a run that ends at "
            f"{_ladder(config)[0]} = {_ladder(config)[2]:g}; set those keys too.)"
        ) from None


def total_steps(config: RunConfig) -> int:
    """All steps of the run: the stages before the target and ``run.steps``."""
    return stages_of(config)[-1].end


def stage_key(key: jax.Array, stage: Stage) -> jax.Array:
    """The stage's training key: the run's key for stage 0, ``fold_in(key, k)`` after."""
    return key if stage.index == 0 else jax.random.fold_in(key, stage.index)


def stage_balancer(balancer: Balancer, stage: Stage) -> Balancer:
    """``balancer`` seeing the stage's own step count $t - s_k$ (unchanged for stage 0)."""
    if stage.start == 0:
        return balancer
    inner, start = balancer.update, stage.start

    def update(inputs, state):
        return inner(inputs._replace(step=inputs.step - start), state)

    return balancer._replace(update=update)


def stage_fixed_from(fixed_from: int | None, stage: Stage) -> int | None:
    """``sampling.fixed_from`` counted from the stage's start, as a step of the run."""
    return None if fixed_from is None else stage.start + int(fixed_from)


def warm_start(
    previous: TrainState, problem, net, optimizer, balancer: Balancer, sampler, key: jax.Array, stage: Stage
) -> TrainState:
    """The first state of ``stage``: the parameters of ``previous`` (stage $k-1$'s last
    state), fresh optimiser, balancer and sampler states, the stage's key, and the run's
    step count ``stage.start``. ``net`` gives the network's static part."""
    import equinox as eqx

    from ..coefficients import attach_coefficients

    _, static = eqx.partition(attach_coefficients(problem.coefficients, net), eqx.is_inexact_array)
    fresh = init_state(problem, eqx.combine(previous.params, static), optimizer, balancer, sampler, key)
    return fresh._replace(step=jnp.asarray(stage.start, dtype=fresh.step.dtype))


class StageRecorder(Callback):
    """A diagnostics recorder of one stage: from the second stage on, its first step's
    record is the previous stage's (the network at the end of that stage), so at the
    stage's start it only takes the earlier records back from the run folder."""

    def __init__(self, inner, stage: Stage):
        self.inner, self.stage = inner, stage

    def on_start(self, ctx: FitContext) -> None:
        if self.stage.index > 0 and ctx.done == self.stage.start:
            if self.inner.out_dir is not None:
                self.inner.restore(ctx.done + 1)
            return
        self.inner.on_start(ctx)

    def on_chunk(self, ctx: FitContext, row) -> None:
        self.inner.on_chunk(ctx, row)

    def on_end(self, ctx: FitContext, summary) -> None:
        self.inner.on_end(ctx, summary)

    def next_due(self, done: int) -> int | None:
        return self.inner.next_due(done)


# ---------------------------------------------------------------------------------------
# records of the stages, and the loop over them
# ---------------------------------------------------------------------------------------


class StageRecords:
    """The records of a run's finished stages, kept in ``folder/stages.json`` (if a folder)."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.records: list[dict[str, Any]] = []

    def load(self, upto: int) -> StageRecords:
        """Read ``stages.json`` (if there is one), keeping the stages ended by step ``upto``.

        Raises:
            pinnsight.experiments.run_folder.RunFileError: a damaged or foreign file.
        """
        from .run_folder import RunFileError, read_json

        p = None if self.folder is None else self.folder / STAGES_FILE
        if p is None or not p.exists():
            return self
        data = read_json(p)
        recs = data.get("stages") if isinstance(data, dict) else None
        ok = isinstance(recs, list) and all(
            isinstance(r, dict) and isinstance(r.get("stage"), int) and isinstance(r.get("end_step"), int)
            for r in recs
        )
        if not ok:
            raise RunFileError(f"{p}: not a pinnsight stages file (expected {{'stages': [...]}}).")
        self.records = [r for r in recs if r["end_step"] <= upto]
        return self

    def has(self, stage: Stage) -> bool:
        return any(r["stage"] == stage.index for r in self.records)

    def add(self, record: dict[str, Any]) -> None:
        """Keep ``record`` (replacing one of the same stage) and rewrite the file atomically."""
        self.records = [r for r in self.records if r["stage"] != record["stage"]] + [record]
        if self.folder is not None:
            from .run_folder import RunFolder

            RunFolder(self.folder).write_json(STAGES_FILE, {"stages": self.records})


def stage_record(
    stage: Stage, summary: Mapping[str, Any], row: Mapping[str, float] | None, folder: Path | None
) -> dict[str, Any]:
    """What ``summary.json`` says of a stage: its parameter, steps, status, and at its end the
    error against the reference at its parameter value, loss, λ, gradient imbalance per
    group and, if the run records it (``stiffness.csv``), the last $\\sigma_{\\max}$."""
    rec: dict[str, Any] = {
        "stage": stage.index,
        "params": {stage.name: stage.value},
        "start_step": stage.start,
        "end_step": stage.end,
        "steps": stage.steps,
        "status": summary.get("status"),
        "final_error": summary.get("final_error"),
        "final_loss": summary.get("final_loss"),
        "final_lambda": dict(summary.get("final_lambda") or {}),
        "imbalance": {
            k[len("imbalance_") :]: v for k, v in (row or {}).items() if k.startswith("imbalance_")
        },
    }
    if folder is not None and (folder / "stiffness.csv").exists():
        from .run_folder import read_stiffness

        data = read_stiffness(folder) or {}
        low = stage.start if stage.index > 0 else -1
        inside = [i for i, s in enumerate(data.get("step", [])) if low < s <= stage.end]
        if inside:
            rec["sigma_max"] = data["sigma_max"][inside[-1]]
            rec["sigma_max_step"] = int(data["step"][inside[-1]])
    return rec


@dataclass
class _Process:
    """This process's share of a run: when it began, the step it began at, and the seconds
    of compiled steps of the stages it has finished."""

    start_step: int
    t0: float = field(default_factory=time.perf_counter)
    train_time: float = 0.0


class _StageSummary(Callback):
    """Keeps the stage's last metrics row; at its end records the stage (``stages.json``)
    and, for the last stage (or a divergence), puts the run's ``stages`` and whole-process
    times into the summary dict before the run folder writes it (so it is placed just
    before `pinnsight.experiments.run_folder.RunFolderCallback`)."""

    def __init__(self, stage: Stage, records: StageRecords, process: _Process, row=None):
        self.stage, self.records, self.process, self.row = stage, records, process, row

    def on_chunk(self, ctx: FitContext, row: dict[str, float]) -> None:
        self.row = dict(row)

    def on_end(self, ctx: FitContext, summary: dict[str, Any]) -> None:
        status = summary.get("status")
        if status == "interrupted" or (status != "diverged" and ctx.done < self.stage.end):
            return
        rec = stage_record(self.stage, summary, self.row, self.records.folder)
        if not self.stage.final and status != "diverged":
            self.records.add(rec)
            return
        train_time = self.process.train_time + float(summary.get("train_time_s") or 0.0)
        start = self.process.start_step
        summary["stages"] = [*self.records.records, rec]
        summary["start_step"] = start
        summary["wall_time_s"] = time.perf_counter() - self.process.t0
        summary["train_time_s"] = train_time
        summary["steps_per_s"] = (ctx.done - start) / train_time if train_time > 0 else None


def _first_stage(stages: Sequence[Stage], step: int, records: StageRecords) -> Stage:
    """The stage to train first when the state is at ``step``: the one containing it; the
    next one if ``step`` ends a stage whose record is kept (a warm start follows)."""
    if step <= 0:
        return stages[0]
    for s in stages:
        if s.start < step <= s.end:
            if step == s.end and not s.final and records.has(s):
                return stages[s.index + 1]
            return s
    return stages[-1]


def _split(history: Mapping[str, Sequence[float]] | None, step: int):
    """``history`` cut into the rows up to ``step`` and those after it."""
    rows = {k: list(v) for k, v in (history or {}).items()}
    steps = rows.get("step", [])
    n = sum(1 for s in steps if s <= step)
    return {k: v[:n] for k, v in rows.items()}, {k: v[n:] for k, v in rows.items() if v[n:]}


def run_stages(
    stages: Sequence[Stage],
    train: Callable[..., FitResult],
    *,
    state: TrainState | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
    records: StageRecords | None = None,
    tail: Callable[[Stage], list[Callback]] | None = None,
) -> FitResult:
    """Train ``stages`` in order with ``train(stage, state, history, extra) -> FitResult``
    (one `pinnsight.fit` of the stage, which warm-starts from ``state`` when it is at the
    stage's start: `warm_start`), resuming from a checkpointed ``state`` and its ``history``.

    ``tail(stage)``: callbacks to put last (the run folder's). Returns the last stage's
    result with the whole run's history; its summary holds ``stages`` (module docstring).
    """
    extra_last = tail if tail is not None else (lambda stage: [])
    if len(stages) == 1:  # no curriculum: exactly one fit
        return train(stages[0], state, history, extra_last(stages[0]))
    records = records or StageRecords()
    step = 0 if state is None else int(state.step)
    records.load(step)
    first = _first_stage(stages, step, records)
    earlier, current = _split(history, first.start)
    process = _Process(step)
    result = None
    for stage in stages[first.index :]:
        last = {k: v[-1] for k, v in current.items()} if current else None
        extra = [_StageSummary(stage, records, process, last), *extra_last(stage)]
        result = train(stage, state, current or None, extra)
        process.train_time += float(result.summary.get("train_time_s") or 0.0)
        for k, v in result.history.items():
            earlier.setdefault(k, []).extend(np.asarray(v).tolist())
        state, current = result.state, {}
    assert result is not None
    history_all = {k: np.asarray(v) for k, v in earlier.items()}
    return FitResult(net=result.net, history=history_all, summary=result.summary, state=result.state)
