"""The built-in benchmarks, one module each, registered by short name.

Each module defines a factory ``make(**params) -> Problem`` written with the same
public API a user has, and registers it with `register`. `get_problem` builds one by
name with checked parameters; `PROBLEMS` is the single registry the CLI reads.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..problem import Problem

__all__ = ["PROBLEMS", "ProblemEntry", "register", "get_problem", "problem_defaults", "check_params"]


@dataclass(frozen=True)
class ProblemEntry:
    """A registered benchmark: its factory, a one-line description, the training defaults it
    suggests (config-tree keys such as ``"net.layers"``) and the ranges of its parameters."""

    name: str
    factory: Callable[..., Problem]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)


PROBLEMS: dict[str, ProblemEntry] = {}


def register(name: str, description: str, *, defaults=None, rules=None, recipes=None):
    """Decorator: register ``factory(**params) -> Problem`` under ``name``.

    ``defaults``: config-tree values this benchmark trains with unless told otherwise
    (``{"net.layers": (2, 50, 50, 1)}``); ``rules``: per parameter ``"positive"``,
    ``"nonzero"`` or an inclusive ``(lo, hi)`` range, checked before anything is built;
    ``recipes``: named presets of this problem's own (``{"best": {...}}``), beside the
    problem-independent ones (M1–M4).
    """

    def deco(factory: Callable[..., Problem]) -> Callable[..., Problem]:
        PROBLEMS[name] = ProblemEntry(
            name, factory, description, dict(defaults or {}), dict(rules or {}), dict(recipes or {})
        )
        return factory

    return deco


def _entry(name: str) -> ProblemEntry:
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose one of: {', '.join(sorted(PROBLEMS))}.")
    return PROBLEMS[name]


def problem_defaults(name: str) -> dict[str, Any]:
    """The parameters of problem ``name`` with their default values."""
    sig = inspect.signature(_entry(name).factory)
    return {k: p.default for k, p in sig.parameters.items()}


def get_problem(name: str, **params: Any) -> Problem:
    """Build the registered problem ``name`` with parameters overridden by ``params``."""
    return _entry(name).factory(**check_params(name, params))


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of problem ``name`` coerced to their types and checked against its rules."""
    defaults = problem_defaults(name)
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for problem {name!r}; valid: {', '.join(defaults)}."
        )
    checked = {k: _check_param(name, k, v, defaults[k]) for k, v in params.items()}
    for k, v in checked.items():
        _check_rule(name, k, v, _entry(name).rules.get(k))
    return checked


def _check_rule(problem: str, key: str, value: Any, rule: Any) -> None:
    if rule is None:
        return
    if rule == "positive" and not value > 0:
        raise ValueError(f"parameter `{key}` of problem {problem!r} must be > 0, got {key} = {value!r}.")
    if rule == "nonzero" and value == 0:
        raise ValueError(
            f"parameter `{key}` of problem {problem!r} must be non-zero (the exact solution would "
            f"vanish), got {key} = {value!r}."
        )
    if isinstance(rule, tuple) and not rule[0] <= value <= rule[1]:
        raise ValueError(
            f"parameter `{key}` of problem {problem!r} must be in [{rule[0]}, {rule[1]}], "
            f"got {key} = {value!r}."
        )


def _check_param(problem: str, key: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of the parameter's default, or say what is wrong."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(
                f"parameter `{key}` of problem {problem!r} must be true or false, got {key} = {value!r}."
            )
        return value
    if isinstance(default, float):
        if not number or not math.isfinite(value):
            raise ValueError(
                f"parameter `{key}` of problem {problem!r} must be a number, got {key} = {value!r}."
            )
        return float(value)
    if isinstance(default, int) and not isinstance(default, bool):
        if not (number and float(value).is_integer()):
            raise ValueError(
                f"parameter `{key}` of problem {problem!r} must be an integer, got {key} = {value!r}."
            )
        return int(value)
    if isinstance(default, tuple):
        if not isinstance(value, tuple | list) or not all(isinstance(v, int) for v in value):
            raise ValueError(
                f"parameter `{key}` of problem {problem!r} must be a tuple of integers like "
                f"{default}, got {key} = {value!r}."
            )
        return tuple(value)
    return value


def gauss_newton_recipe(
    layers: tuple[int, ...], batch_size: dict[str, int], steps: int, adam_steps: int = 1000
) -> dict[str, Any]:
    """The small-network recipe behind docs/RESULTS.md §7: an MLP of ``layers``, grad-norm
    weights (every 100 steps), ``adam_steps`` Adam steps, then Gauss–Newton in float64 on the
    points of that step (weights frozen there) until ``steps``; chunks of 100 steps."""
    return {
        "net.kind": "mlp",
        "net.layers": tuple(layers),
        "weighting.kind": "grad_norm",
        "weighting.every": 100,
        "sampling.batch_size": dict(batch_size),
        "optim.polish": "gauss_newton",
        "optim.polish_from": adam_steps,
        "run.steps": steps,
        "run.chunk_size": 100,
        "run.x64": True,
    }


from . import burgers as burgers  # noqa: E402
from . import burgers_inverse as burgers_inverse  # noqa: E402
from . import cavity as cavity  # noqa: E402
from . import heat3d as heat3d  # noqa: E402
from . import helmholtz as helmholtz  # noqa: E402  (registration side effect)
from . import klein_gordon as klein_gordon  # noqa: E402
from . import poisson1d as poisson1d  # noqa: E402
