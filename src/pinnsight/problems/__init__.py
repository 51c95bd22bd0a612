"""The built-in benchmarks, one module each, registered by short name.

Each module defines a factory ``make(**params) -> Problem`` written with the same
public API a user has, and registers it with `register`. `get_problem` builds one by
name with checked parameters; `PROBLEMS` is the single registry the CLI reads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..problem import Problem

__all__ = ["PROBLEMS", "register", "get_problem", "problem_defaults"]


@dataclass(frozen=True)
class ProblemEntry:
    name: str
    factory: Callable[..., Problem]
    description: str


PROBLEMS: dict[str, ProblemEntry] = {}


def register(name: str, description: str):
    """Decorator: register ``factory(**params) -> Problem`` under ``name``."""

    def deco(factory: Callable[..., Problem]) -> Callable[..., Problem]:
        PROBLEMS[name] = ProblemEntry(name, factory, description)
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
    defaults = problem_defaults(name)
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for problem {name!r}; valid: {', '.join(defaults)}."
        )
    checked = {k: _check_param(name, k, v, defaults[k]) for k, v in params.items()}
    return _entry(name).factory(**checked)


def _check_param(problem: str, key: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of the parameter's default, or say what is wrong."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, float):
        if not number:
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


from . import burgers as burgers  # noqa: E402
from . import cavity as cavity  # noqa: E402
from . import helmholtz as helmholtz  # noqa: E402  (registration side effect)
from . import klein_gordon as klein_gordon  # noqa: E402
from . import poisson1d as poisson1d  # noqa: E402
