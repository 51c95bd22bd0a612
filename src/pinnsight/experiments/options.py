"""Typed options read from factory signatures: the types, defaults and one-line docs of the
keyword arguments of a network, balancer, optimiser or sampler factory.

A factory's keyword arguments *are* its config options: adding a balancer with a new
hyper-parameter needs no edit of the config code. Values from the CLI or a file are
coerced to the parameter's annotated type here, outside `jit`, with one clear message.
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["Option", "factory_options", "coerce"]

_SKIP = {"key", "shift", "scale", "domain", "layers", "self"}


class Option(typing.NamedTuple):
    name: str
    default: Any
    annotation: Any
    doc: str


def _arg_docs(fn: Callable) -> dict[str, str]:
    """One-line docs per argument from a Google-style ``Args:`` section."""
    doc = inspect.getdoc(fn) or ""
    if inspect.isclass(fn):
        doc = (inspect.getdoc(fn.__init__) or "") + "\n" + doc
    out: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:"):
            in_args = True
            continue
        if in_args and line and not line.startswith(" "):
            in_args = False
        m = re.match(r"\s{4}([\w, ]+):\s*(.*)", line) if in_args else None
        if m:
            for name in m.group(1).split(","):
                out.setdefault(name.strip(), m.group(2).strip())
    return out


def factory_options(factory: Callable) -> dict[str, Option]:
    """The keyword options of ``factory`` (a function or a class) with defaults, types and docs."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - fall back to the defaults' types
        hints = {}
    docs = _arg_docs(factory)
    out = {}
    for name, p in inspect.signature(target).parameters.items():
        if name in _SKIP or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty:
            continue
        out[name] = Option(name, p.default, hints.get(name, type(p.default)), docs.get(name, ""))
    return out


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _coerce_tuple(value: Any, annotation: Any, where: str) -> tuple:
    """A list or tuple as ``annotation``: ``tuple[X, ...]`` and ``Sequence[X]`` item by item,
    ``tuple[X, Y]`` place by place (a JSON round trip turns tuples into lists)."""
    if not isinstance(value, tuple | list):
        raise ValueError(f"`{where}` must be a tuple like (1, 2), got {where} = {value!r}.")
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and len(args) > 1 and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ValueError(f"`{where}` must have {len(args)} entries, got {where} = {value!r}.")
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    item = args[0] if args else Any
    return tuple(v if item is Any else coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))


def _key(key: Any, annotation: Any, where: str) -> Any:
    """A table's key as ``annotation``; an integer key written as text (JSON's keys are
    strings) is read back as the integer."""
    if annotation is int and isinstance(key, str) and re.fullmatch(r"-?\d+", key.strip()):
        key = int(key)
    return coerce(key, annotation, where)


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as ``annotation`` (int, float, bool, str, tuples, dicts, ``X | None``), or a
    `ValueError` naming ``where``, the value and the expected type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return coerce(value, opt, where)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(
            errors[0] if len(errors) == 1 else f"`{where}` = {value!r} fits none of: {annotation}."
        )
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"`{where}` must be true or false, got {where} = {value!r}.")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
            raise ValueError(f"`{where}` must be an integer, got {where} = {value!r}.")
        return int(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"`{where}` must be a finite number, got {where} = {value!r}.")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"`{where}` must be a string, got {where} = {value!r}.")
        return value
    if origin in (tuple, collections.abc.Sequence) or annotation is tuple:
        return _coerce_tuple(value, annotation, where)
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        if not isinstance(value, dict):
            raise ValueError(f"`{where}` must be a table/dict, got {where} = {value!r}.")
        args = typing.get_args(annotation)
        if len(args) == 2:
            return {_key(k, args[0], where): coerce(v, args[1], f"{where}[{k!r}]") for k, v in value.items()}
        return dict(value)
    if annotation is Any or annotation is None:
        return value
    raise ValueError(
        f"`{where}` has a type pinnsight cannot read from the command line: {_type_name(annotation)}."
    )
