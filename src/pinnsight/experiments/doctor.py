"""`pinnsight doctor`: diagnose a config's PINN with a probe training and, with ``--cure``,
train the cure the doctor proposes beside it (same probe length) and compare errors.

The problem is a registered one (``pinnsight doctor helmholtz --set a2=2``) or a `Problem`
defined in a user's script (``pinnsight doctor path/to/script.py[:NAME]``), loaded without
running the script's ``if __name__ == "__main__":`` block (`load_problem`).
"""

from __future__ import annotations

import dataclasses
import runpy
import shlex
from pathlib import Path
from typing import Any

import jax

from ..diagnostics.doctor import DEFAULT_PROBE_STEPS, SEVERITIES, Diagnosis, _jsonable, doctor
from ..problem import Problem
from .build import (
    build_balancer,
    build_net,
    build_optimizer,
    build_problem,
    build_sampler,
    fixed_points_from,
    learning_rate_at,
)
from .config import RunConfig
from .curriculum import KEY as CURRICULUM
from .curriculum import stages_of
from .runs import stage_config

__all__ = [
    "load_problem",
    "diagnose_config",
    "run_doctor",
    "setup_of",
    "is_script",
    "probe_config",
    "cure_keys",
    "in_keys_of",
    "describe_keys",
]


def is_script(target: str) -> bool:
    """Whether a doctor target names a Python file (``path.py`` or ``path.py:NAME``)."""
    path = target.rsplit(":", 1)[0] if target.count(":") and not Path(target).exists() else target
    return path.endswith(".py")


def load_problem(target: str) -> Problem:
    """The `Problem` of ``path/to/script.py[:NAME]``: the module-level `Problem` named ``NAME``,
    or the only one the script defines.

    The script runs with ``__name__ != "__main__"``, so training guarded by
    ``if __name__ == "__main__":`` does not run (examples/poisson2d.py is written so).
    """
    path, name = target, None
    if not Path(target).exists() and ":" in target:
        path, name = target.rsplit(":", 1)
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path}: no such script (give path/to/script.py or path/to/script.py:NAME).")
    namespace = runpy.run_path(str(p), run_name="__pinnsight_doctor__")
    found = {k: v for k, v in namespace.items() if isinstance(v, Problem) and not k.startswith("_")}
    if name is not None:
        if name not in namespace:
            raise ValueError(
                f"{path} defines no `{name}`; Problem objects there: {', '.join(found) or 'none'}."
            )
        if not isinstance(namespace[name], Problem):
            raise ValueError(
                f"`{name}` in {path} is a {type(namespace[name]).__name__}, not a pinnsight.Problem."
            )
        return namespace[name]
    unique = {id(v): k for k, v in found.items()}
    if len(unique) != 1:
        which = ", ".join(found) if found else "none"
        raise ValueError(f"{path} defines {len(unique)} Problem objects ({which}); name one: {path}:NAME.")
    return next(iter(found.values()))


def setup_of(config: RunConfig) -> dict[str, Any]:
    """The config keys the doctor's cures are chosen against."""
    out: dict[str, Any] = {
        "net.kind": config.net.kind,
        "weighting.kind": config.weighting.kind,
        "optim.kind": config.optim.kind,
        "sampling.kind": config.sampling.kind,
    }
    lr = config.options("optim").get("learning_rate")
    if lr is not None:
        out["optim.learning_rate"] = lr
    return out


def for_problem(config: RunConfig, problem: Problem) -> RunConfig:
    """``config`` with the network sized for ``problem`` when it is not a registered one
    (the paper's width and depth: 3 hidden layers of 50)."""
    if config.net.layers is None and problem.name != config.problem.name:
        layers = (problem.domain.dim, 50, 50, 50, problem.output_dim)
        return config.override(**{"net.layers": layers})
    return config


def probe_config(config: RunConfig, problem: Problem) -> RunConfig:
    """What the doctor probes: the run's last stage, i.e. the problem at the config's own
    parameters (over the ladder's ``final_params`` at the target) with that stage's learning
    rate, batch and balancer where a ``run.curriculum`` ladder sets them (what it trains
    with), from a fresh network for ``run.steps`` steps. The earlier stages' warm start is not
    part of a probe. ``config`` itself without a ladder (or for a script's problem, which a
    ladder of the registered problem does not describe)."""
    if not config.run.curriculum or problem.name != config.problem.name:
        return config
    return stage_config(config, stages_of(config)[-1], problem)


def cure_keys(config: RunConfig, diagnosis: Diagnosis) -> dict[str, Any]:
    """``diagnosis.cure()`` as keys of ``config``: where a ``run.curriculum`` ladder sets the
    last stage's learning rate (or balancer), ``optim.learning_rate`` (or ``weighting.*``)
    would not reach that stage, so the new values go into the ladder's ``learning_rate`` (or
    ``weighting``) at the stage's value (``run.curriculum`` whole); the other keys unchanged."""
    return _as_keys_of(config, diagnosis.cure(), diagnosis.problem)


def in_keys_of(config: RunConfig, diagnosis: Diagnosis) -> Diagnosis:
    """``diagnosis`` with every finding's cure written as keys of ``config`` (`cure_keys`), so
    the findings' table and JSON name what ``--set`` must change, as the merged cure does."""
    findings = [
        dataclasses.replace(
            f, cure={**f.cure, "set": _as_keys_of(config, f.cure.get("set", {}), diagnosis.problem)}
        )
        for f in diagnosis.findings
    ]
    return dataclasses.replace(diagnosis, findings=findings)


def _as_keys_of(config: RunConfig, keys: dict[str, Any], problem_name: str) -> dict[str, Any]:
    spec = config.run.curriculum
    if not spec or problem_name != config.problem.name:  # a script's problem: probed without the ladder
        return keys
    last = stages_of(config)[-1]
    if last.rung is None:
        return keys
    ladder, out = dict(spec), dict(keys)
    if "optim.learning_rate" in out and last.learning_rate is not None:
        ladder["learning_rate"] = _at_rung(spec["learning_rate"], last.rung, out.pop("optim.learning_rate"))
    weighting = {k.removeprefix("weighting."): v for k, v in out.items() if k.startswith("weighting.")}
    if weighting and last.weighting is not None:  # the stage's own balancer would hide them
        entry = weighting if "kind" in weighting else {**last.weighting, **weighting}
        ladder["weighting"] = _at_rung(spec["weighting"], last.rung, entry)
        out = {k: v for k, v in out.items() if not k.startswith("weighting.")}
    return out if out == keys else {**out, CURRICULUM: ladder}


def _at_rung(entries, rung: int, value: Any) -> tuple:
    """The ladder's ``entries`` with ``value`` at ``rung``."""
    return tuple(value if k == rung else e for k, e in enumerate(entries))


def diagnose_config(config: RunConfig, problem: Problem | None = None, *, progress: bool = True) -> Diagnosis:
    """`pinnsight.diagnostics.doctor.doctor` on the set-up of ``config`` (``run.steps`` is the
    probe's length), for its registered problem or for ``problem``."""
    with jax.enable_x64(config.run.x64):
        problem = problem if problem is not None else build_problem(config)
        config = probe_config(for_problem(config, problem), problem)
        init_key, train_key = jax.random.split(jax.random.PRNGKey(config.run.seed))
        net = build_net(config, problem, init_key)
        schedule = learning_rate_at(config)
        return doctor(
            problem,
            net,
            build_balancer(config),
            key=train_key,
            steps=config.run.steps,
            optimizer=build_optimizer(config),
            learning_rate=(lambda t: float(schedule(t))) if schedule is not None else None,
            sampler=build_sampler(config, problem),
            batch_size=config.sampling.batch_size,
            fixed_from=fixed_points_from(config),
            setup=setup_of(config),
            seed=config.run.seed,
            progress=progress,
        )


def run_doctor(
    config: RunConfig,
    problem: Problem | None = None,
    *,
    cure: bool = False,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Diagnose ``config`` (and, with ``cure``, diagnose its cure too); write the report to ``out``.

    Returns ``{"diagnosis": Diagnosis, "json": dict, "cure": {...} | None, "cure_keys": dict,
    "report": path | None, "after": Diagnosis | None}``; ``cure_keys`` is the cure as keys of
    ``config`` (`cure_keys`); ``json`` is the ``--json`` object: the diagnosis (its ``cure``
    those keys), plus under ``"cure_run"`` the cure's keys, the errors before and after and the
    severities after (with ``cure``).
    """
    before = in_keys_of(config, diagnose_config(config, problem, progress=progress))
    data = before.to_dict()
    data["config"] = config.to_dict(resolved=False)
    cure_run = None
    after = None
    keys = cure_keys(config, before)
    data["cure"] = keys
    if cure:
        if not keys:
            cure_run = {"set": {}, "note": "nothing to cure: no mild or severe finding"}
        else:
            cured = config.override(**keys)
            after = in_keys_of(cured, diagnose_config(cured, problem, progress=progress))
            e0, e1 = before.summary.get("final_error"), after.summary.get("final_error")
            cure_run = {
                "set": keys,
                "recipe": describe_keys(keys),
                "steps": config.run.steps,
                "error_before": e0,
                "error_after": e1,
                "improvement": (e0 / e1) if e0 and e1 else None,
                "severity_before": {f.pathology: f.severity for f in before.findings},
                "severity_after": {f.pathology: f.severity for f in after.findings},
                "diagnosis_after": after.to_dict(),
            }
        data["cure_run"] = cure_run
    report = None
    if out is not None:
        from ..report.doctor_report import write_doctor_report

        report = write_doctor_report(
            Path(out), before, after=after, cure_run=cure_run, config=config, cure_keys=keys
        )
        data["report"] = str(report)
    return {
        "diagnosis": before,
        "json": _jsonable(data),
        "cure": cure_run,
        "cure_keys": keys,
        "report": report,
        "after": after,
    }


def describe_keys(keys: dict[str, Any]) -> str:
    """``keys`` as ``--set`` arguments a shell reads back as they are (quoted where a value
    has spaces or quotes, e.g. a ``run.curriculum`` table)."""
    return " ".join(_shell_word(f"{k}={v}") for k, v in keys.items())


def _shell_word(word: str) -> str:
    """``word`` for a POSIX shell: as it is if safe, in double quotes if it has nothing a
    shell expands there (a Python literal's single quotes read better so), else `shlex.quote`."""
    quoted = shlex.quote(word)
    if quoted == word or any(c in word for c in '"$`\\!'):
        return quoted
    return f'"{word}"'


def default_steps() -> int:
    """The probe's default length."""
    return DEFAULT_PROBE_STEPS


def severity_rank(severity: str) -> int:
    """0, 1, 2 for none, mild, severe."""
    return SEVERITIES.index(severity)
