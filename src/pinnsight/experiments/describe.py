"""`pinnsight config [RECIPE]`: the whole config tree with values, defaults and one-line docs."""

from __future__ import annotations

import json
from typing import Any

from ..problems import PROBLEMS, problem_defaults
from .config import REGISTRIES, SECTIONS, RunConfig, _fields, section_options

__all__ = ["describe"]


def _fmt(v: Any) -> str:
    return (
        json.dumps(v) if isinstance(v, str | dict) else repr(v) if not isinstance(v, bool) else str(v).lower()
    )


def _line(key: str, value: Any, default: Any, doc: str) -> str:
    mark = "" if value == default else f"   (default {_fmt(default)})"
    return f"  {key:<28} = {_fmt(value):<22} # {doc}{mark}"


def describe(cfg: RunConfig) -> str:
    """Text of the tree: one line per key, ``section.key = value  # doc (default ...)``."""
    lines = [f"recipe = {_fmt(cfg.recipe)}   # named preset: {', '.join(_recipes(cfg.problem.name))}", ""]
    entry = PROBLEMS[cfg.problem.name]
    lines.append(f"[problem]  # {entry.description}")
    lines.append(_line("problem.name", cfg.problem.name, "helmholtz", "registered problem (pinnsight list)"))
    for k, d in problem_defaults(cfg.problem.name).items():
        lines.append(_line(f"problem.params.{k}", cfg.problem.params.get(k, d), d, "parameter of the PDE"))
    for name, cls in SECTIONS.items():
        if name == "problem":
            continue
        sec = getattr(cfg, name)
        lines += ["", f"[{name}]  # {(cls.__doc__ or '').strip().splitlines()[0]}"]
        for fname, f in _fields(cls).items():
            value = cfg.layers if fname == "layers" else getattr(sec, fname)
            default = f.default if f.default is not dataclasses_missing() else None
            if f.default_factory is not dataclasses_missing():
                default = f.default_factory()
            if fname == "layers":
                default = entry.defaults.get("net.layers")
            lines.append(_line(f"{name}.{fname}", value, default, f.metadata.get("doc", "")))
        if name in REGISTRIES:
            effective = cfg.options(name)
            for oname, opt in section_options(name, sec.kind).items():
                lines.append(
                    _line(
                        f"{name}.{oname}", effective[oname], opt.default, opt.doc or f"option of {sec.kind}"
                    )
                )
            unused = sorted(set(sec.options) - set(effective))
            if unused:
                lines.append(f"  # set but unused by {sec.kind}: {', '.join(unused)}")
    return "\n".join(lines + _stages(cfg))


def _stages(cfg: RunConfig) -> list[str]:
    """One comment line with the stages of a curriculum (none without one), and one with the
    problem parameters its ``final_params`` add to the run's own stage (none without them)."""
    from .curriculum import final_params, stages_of

    stages, final = stages_of(cfg), final_params(cfg)
    adds = " ".join(f"{k}={_fmt(v)}" for k, v in final.items())
    extra = [f"  # the run's own stage adds: {adds}"] if final else []
    if len(stages) == 1:
        return extra

    def stage(s) -> str:
        rate = "" if s.learning_rate is None else f", learning rate {s.learning_rate:g}"
        return f"{s.value:g} ({s.steps} steps{rate}{_batch(s.batch_size)}{_weighting(s.weighting)})"

    path = " -> ".join(stage(s) for s in stages)
    return [f"  # stages: {stages[0].name} = {path}; {stages[-1].end} steps in all", *extra]


def _batch(batch: int | dict[str, int] | None) -> str:
    """``", batch 512"`` or ``", batch residual=512"`` (nothing for None: sampling.batch_size)."""
    if batch is None:
        return ""
    if isinstance(batch, int):
        return f", batch {batch}"
    return ", batch " + " ".join(f"{k}={v}" for k, v in batch.items())


def _weighting(entry: dict | None) -> str:
    """``", weighting kind=fixed weights={'bc': 10.0}"`` (nothing for None: the run's)."""
    if entry is None:
        return ""
    return ", weighting " + " ".join(f"{k}={_fmt(v)}" for k, v in entry.items())


def _recipes(problem: str) -> list[str]:
    from .config import recipes_for

    return list(recipes_for(problem))


def dataclasses_missing():
    import dataclasses

    return dataclasses.MISSING
