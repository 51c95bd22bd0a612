r"""`RunConfig`: the config tree of one run — typed sections, checked before anything runs.

```
recipe        M1 … M4 (or any name in RECIPES): a named preset of the sections below
problem       name, params (the PDE's own parameters, e.g. a2, Re, nu)
net           kind (mlp | modified_mlp | …), layers, and the network's own options
optim         kind (adam | …) and its options (learning_rate, decay_rate, decay_steps, …)
weighting     kind (fixed | annealing | …) and its options (every, variant, alpha, …)
sampling      kind (uniform | rad | …), batch_size, and its options (pool, k, c)
diagnostics   hist_steps, hist_bins, stiffness_every, stiffness_iters, stiffness_terms
run           steps, seed, chunk_size, eval_points, x64, devices
```

The options of a ``kind`` are the keyword arguments of its factory (`pinnsight.nets.NETWORKS`,
`pinnsight.weighting.BALANCERS`, `pinnsight.optim.OPTIMIZERS`, `pinnsight.sampling.SAMPLERS`),
typed by their annotations: a new balancer brings its options with it. A run differs from
the defaults only by overrides — ``--set section.key=value``, TOML tables, keyword
arguments — and the resolved tree is written beside the results as ``config.json``.
Defaults a benchmark suggests (its network sizes; the cavity's layer-wise annealing
statistic) come from its registry entry (`pinnsight.problems.register`).
``run.curriculum`` trains the run in stages along a ladder of one problem parameter, each
stage warm-started from the previous one (`pinnsight.experiments.curriculum`).
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..nets import NETWORKS
from ..optim import OPTIMIZERS
from ..problems import PROBLEMS, check_params, problem_defaults
from ..sampling import SAMPLERS
from ..train import DEFAULT_EVAL_POINTS
from ..weighting import BALANCERS
from .curriculum import check_curriculum, run_problem, total_steps
from .options import Option, coerce, factory_options

__all__ = [
    "RunConfig",
    "RECIPES",
    "MODELS",
    "REGISTRIES",
    "parse_value",
    "ALIASES",
    "recipes_for",
    "recipe_values",
    "stage_weighting",
]

REGISTRIES: dict[str, dict[str, Any]] = {
    "net": NETWORKS,
    "optim": OPTIMIZERS,
    "weighting": BALANCERS,
    "sampling": SAMPLERS,
}
"""The factories each ``kind`` names, per section."""

RECIPES: dict[str, dict[str, Any]] = {
    "M1": {"net.kind": "mlp", "weighting.kind": "fixed"},
    "M2": {"net.kind": "mlp", "weighting.kind": "annealing"},
    "M3": {"net.kind": "modified_mlp", "weighting.kind": "fixed"},
    "M4": {"net.kind": "modified_mlp", "weighting.kind": "annealing"},
}
"""Named presets of the tree (the paper's models M1–M4, PAPER §5): one line per recipe."""

MODELS = ("M1", "M2", "M3", "M4")

ALIASES: dict[str, str] = {
    "model": "recipe",
    "steps": "run.steps",
    "seed": "run.seed",
    "chunk_size": "run.chunk_size",
    "x64": "run.x64",
    "devices": "run.devices",
    "batch_size": "sampling.batch_size",
    "sampling": "sampling.kind",
    "rad_pool": "sampling.pool",
    "rad_k": "sampling.k",
    "rad_c": "sampling.c",
    "layers": "net.layers",
    "network": "net.kind",
    "learning_rate": "optim.learning_rate",
    "decay_rate": "optim.decay_rate",
    "decay_steps": "optim.decay_steps",
    "balancer": "weighting.kind",
    "balance_every": "weighting.every",
    "annealing_variant": "weighting.variant",
    "annealing_alpha": "weighting.alpha",
    "annealing_statistic": "weighting.statistic",
    "hist_steps": "diagnostics.hist_steps",
    "hist_bins": "diagnostics.hist_bins",
    "stiffness_every": "diagnostics.stiffness_every",
    "stiffness_iters": "diagnostics.stiffness_iters",
    "stiffness_terms": "diagnostics.stiffness_terms",
}
"""Short names (the flat keys of pinnsight 0.1, still accepted by ``--set`` and old configs)."""


@dataclass(frozen=True)
class ProblemSection:
    """The PDE: a registered problem and its parameters."""

    name: str = field(default="helmholtz", metadata={"doc": "registered problem (pinnsight list)"})
    params: dict[str, Any] = field(default_factory=dict, metadata={"doc": "the problem's own parameters"})


@dataclass(frozen=True)
class KindSection:
    """A section whose ``kind`` names a factory and whose ``options`` are its keyword arguments."""

    kind: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetSection(KindSection):
    """The network of one point (`pinnsight.nets`): its kind, sizes and own options."""

    kind: str = field(default="mlp", metadata={"doc": "network (pinnsight.nets.NETWORKS)"})
    layers: tuple[int, ...] | None = field(
        default=None, metadata={"doc": "sizes (d, width, ..., m); default: the problem's"}
    )


@dataclass(frozen=True)
class OptimSection(KindSection):
    """The optimiser (`pinnsight.optim`): its kind and own options."""

    kind: str = field(default="adam", metadata={"doc": "optimiser (pinnsight.optim.OPTIMIZERS)"})
    polish: str | None = field(
        default=None,
        metadata={"doc": "second stage from polish_from on: lbfgs | gauss_newton; none: no second stage"},
    )
    polish_from: int | None = field(
        default=None,
        metadata={
            "doc": "first step of the polish stage (fixed points and frozen weights from then on)",
            "min": 0,
        },
    )


@dataclass(frozen=True)
class WeightingSection(KindSection):
    """The loss balancer (`pinnsight.weighting`): its kind and own options."""

    kind: str = field(default="fixed", metadata={"doc": "balancer (pinnsight.weighting.BALANCERS)"})
    freeze_from: int | None = field(
        default=None,
        metadata={"doc": "from this step on the weights stay as they are (L-BFGS); none: never", "min": 0},
    )


@dataclass(frozen=True)
class SamplingSection(KindSection):
    """Where the points come from (`pinnsight.sampling`): the residual sampler and batch sizes."""

    kind: str = field(default="uniform", metadata={"doc": "residual sampler (pinnsight.sampling.SAMPLERS)"})
    batch_size: int | dict[str, int] = field(
        default=128, metadata={"doc": "points per term per step: one int, or {term: n}", "min": 1}
    )
    fixed_from: int | None = field(
        default=None,
        metadata={"doc": "from this step on the points stay fixed (L-BFGS); none: never", "min": 0},
    )


@dataclass(frozen=True)
class DiagnosticsSection:
    """What is recorded during training (`pinnsight.diagnostics`)."""

    hist_steps: tuple[int, ...] = field(
        default=(), metadata={"doc": "steps of gradient histograms", "min": 0}
    )
    hist_bins: int = field(default=60, metadata={"doc": "bins per histogram", "min": 2, "max": 10_000})
    stiffness_every: int = field(
        default=0, metadata={"doc": "steps between Hessian sigma_max (0: off)", "min": 0}
    )
    stiffness_iters: int = field(default=20, metadata={"doc": "Lanczos iterations", "min": 1, "max": 1000})
    stiffness_terms: bool = field(default=False, metadata={"doc": "sigma_max of each term too"})


@dataclass(frozen=True)
class RunSection:
    """How long, from which seed, in which precision, on how many devices."""

    steps: int = field(default=40_000, metadata={"doc": "optimiser steps", "min": 1})
    seed: int = field(default=0, metadata={"doc": "seed of the initial network and the points", "min": 0})
    chunk_size: int = field(
        default=500, metadata={"doc": "steps per compiled chunk", "min": 1, "max": 1_000_000}
    )
    eval_points: int | None = field(
        default=DEFAULT_EVAL_POINTS,
        metadata={
            "doc": "reference points of the error after each chunk, a fixed random subsample "
            "(0 or none: all; the final error always uses all)",
            "min": 0,
        },
    )
    x64: bool = field(default=False, metadata={"doc": "train in float64"})
    curriculum: dict[str, tuple[int | float | dict[str, int] | dict[str, Any] | None, ...]] = field(
        default_factory=dict,
        metadata={
            "doc": "stages before the target: {PARAM: (values...), 'steps': (n...)}, each "
            "warm-started, optionally 'learning_rate': (initial rate per value...) and "
            "'batch_size': (points per step per value, None: sampling.batch_size...), "
            "'weighting': (table of weighting keys per value, None: the run's...) and "
            "'final_params': (problem parameters of a run that ends at that value, or None...) "
            "(pinnsight.experiments.curriculum); {}: none"
        },
    )
    devices: int = field(
        default=1,
        metadata={"doc": "devices each step's points are sharded over (pinnsight.data_parallel)", "min": 1},
    )


SECTIONS: dict[str, type] = {
    "problem": ProblemSection,
    "net": NetSection,
    "optim": OptimSection,
    "weighting": WeightingSection,
    "sampling": SamplingSection,
    "diagnostics": DiagnosticsSection,
    "run": RunSection,
}


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.name != "options"}


def _check_field(section: str, f: dataclasses.Field, value: Any) -> Any:
    where = f"{section}.{f.name}"
    value = coerce(value, _annotation(section, f.name), where)
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else [value]
    for v in (v for v in items if v is not None) if lo is not None or hi is not None else ():
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rule = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ValueError(f"`{where}` must be {rule}, got {where} = {value!r}.")
    return value


def _annotation(section: str, name: str) -> Any:
    import typing

    return typing.get_type_hints(SECTIONS[section])[name]


def section_options(section: str, kind: str) -> dict[str, Option]:
    """The options of ``kind`` in ``section`` (its factory's keyword arguments)."""
    return factory_options(REGISTRIES[section][kind])


def _check_kind(section: str, kind: str) -> None:
    if kind not in REGISTRIES[section]:
        raise ValueError(f"unknown {section}.kind {kind!r}; choose one of: {', '.join(REGISTRIES[section])}.")


def _check_option(section: str, kind: str, name: str, value: Any) -> Any:
    """Coerce an option by the factory that declares it (the current kind's first)."""
    own = section_options(section, kind)
    if name in own:
        return coerce(value, own[name].annotation, f"{section}.{name}")
    for other in REGISTRIES[section]:
        opts = section_options(section, other)
        if name in opts:
            return coerce(value, opts[name].annotation, f"{section}.{name}")
    valid = sorted(
        {n for k in REGISTRIES[section] for n in section_options(section, k)}
        | set(_fields(SECTIONS[section]))
    )
    raise ValueError(f"unknown config key `{section}.{name}`; keys of [{section}]: {', '.join(valid)}.")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run, as a tree of typed sections (module docstring).

    Build one with `RunConfig.create` (``RunConfig.create(recipe="M4", **{"run.steps": 5000})``)
    or from the CLI; every value is checked when the tree is made, before any folder exists.
    """

    recipe: str = "M1"
    problem: ProblemSection = field(default_factory=ProblemSection)
    net: NetSection = field(default_factory=NetSection)
    optim: OptimSection = field(default_factory=OptimSection)
    weighting: WeightingSection = field(default_factory=WeightingSection)
    sampling: SamplingSection = field(default_factory=SamplingSection)
    diagnostics: DiagnosticsSection = field(default_factory=DiagnosticsSection)
    run: RunSection = field(default_factory=RunSection)

    def __post_init__(self) -> None:
        if self.problem.name not in PROBLEMS:
            raise ValueError(
                f"unknown problem {self.problem.name!r}; choose one of: {', '.join(sorted(PROBLEMS))}."
            )
        check_params(self.problem.name, dict(self.problem.params))
        for name in REGISTRIES:
            sec = getattr(self, name)
            _check_kind(name, sec.kind)
            for k, v in sec.options.items():
                _check_option(name, sec.kind, k, v)
        for name, cls in SECTIONS.items():
            sec = getattr(self, name)
            for fname, f in _fields(cls).items():
                if name != "problem":
                    _check_field(name, f, getattr(sec, fname))
        check_curriculum(self.run.curriculum, self.problem.name)
        for entry in self.run.curriculum.get("weighting", ()):
            stage_weighting(self.weighting, entry)
        for name in ("optim", "weighting", "sampling"):
            _check_ranges(self, name)
        _check_polish(self.optim)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def create(cls, **values: Any) -> RunConfig:
        """The default tree with ``values`` applied (dotted keys, short aliases, problem params)."""
        return cls().override(**values)

    def override(self, **values: Any) -> RunConfig:
        """A copy with values replaced: ``"section.key"``, an alias (``steps``, ``model``), a
        parameter of the problem (``a2``), ``problem`` or ``recipe``. A recipe is applied
        first, then the other values, so explicit values win."""
        tree = self.to_dict(resolved=False)
        values = {ALIASES.get(k, k): v for k, v in values.items()}
        for key in ("problem", "problem.name"):
            if key in values:
                name = coerce(values.pop(key), str, "problem")
                if name not in PROBLEMS:
                    raise ValueError(
                        f"unknown problem {name!r}; choose one of: {', '.join(sorted(PROBLEMS))}."
                    )
                tree["problem"] = {"name": name, "params": {}}
        if "recipe" in values:
            tree["recipe"] = coerce(values.pop("recipe"), str, "recipe")
            for key, v in recipe_values(tree["recipe"], tree["problem"]["name"]).items():
                _assign(tree, key, v)
        pnames = problem_defaults(tree["problem"]["name"]) if tree["problem"]["name"] in PROBLEMS else {}
        for key, v in values.items():
            if "." not in key and key in pnames:
                key = f"problem.params.{key}"
            _assign(tree, key, v, known_params=pnames)
        return RunConfig.from_dict(tree)

    def with_assignments(self, assignments: list[str]) -> RunConfig:
        """Apply ``["key=value", ...]`` strings (values parsed as Python literals)."""
        values = {}
        for a in assignments:
            if "=" not in a:
                raise ValueError(f"expected key=value, got {a!r}.")
            k, v = a.split("=", 1)
            values[k.strip()] = parse_value(v.strip())
        return self.override(**values)

    def with_toml(self, path: str | Path) -> RunConfig:
        """Apply a TOML file: tables per section (``[run] steps = 5000``, ``[problem.params]``),
        or top-level keys (short aliases, problem parameters; ``[params]`` as in 0.1)."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"--config {p}: no such file (give a TOML file).")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"--config {p}: not valid TOML ({err}).") from err
        return self.override(**_flatten_toml(data))

    # -- records -----------------------------------------------------------------------
    def to_dict(self, resolved: bool = True) -> dict[str, Any]:
        """The tree as nested dicts (JSON-ready); ``resolved`` adds each section's effective
        options under ``"resolved"`` (written to ``config.json`` for the record, ignored on load)."""
        out: dict[str, Any] = {"recipe": self.recipe}
        for name in SECTIONS:
            out[name] = dataclasses.asdict(getattr(self, name))
        if resolved:
            out["resolved"] = {name: self.options(name) for name in REGISTRIES}
            out["resolved"]["net"]["layers"] = self.layers
        return out

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """The tree of a ``config.json`` (this version's nested form, or 0.1's flat form)."""
        if not isinstance(data, dict):
            raise ValueError(f"a config must be a JSON object/table, got {type(data).__name__}.")
        if "problem" in data and not isinstance(data["problem"], dict):
            return _from_flat(data)
        data = {k: v for k, v in data.items() if k != "resolved"}
        unknown = set(data) - {"recipe", *SECTIONS}
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(unknown)}; sections: {', '.join(SECTIONS)}.")
        kw: dict[str, Any] = {}
        if "recipe" in data:
            kw["recipe"] = coerce(data["recipe"], str, "recipe")
        for name, cls_ in SECTIONS.items():
            sec = data.get(name, {})
            if not isinstance(sec, dict):
                raise ValueError(f"config section [{name}] must be a table, got {sec!r}.")
            kw[name] = _make_section(name, cls_, sec)
        return cls(**kw)

    # -- derived -----------------------------------------------------------------------
    @property
    def layers(self) -> tuple[int, ...]:
        """The network sizes: ``net.layers``, else the problem's suggestion."""
        if self.net.layers is not None:
            return tuple(self.net.layers)
        return tuple(PROBLEMS[self.problem.name].defaults["net.layers"])

    @property
    def total_steps(self) -> int:
        """All steps of the run: ``run.steps``, and with a ``run.curriculum`` the steps of the
        stages before it (`pinnsight.experiments.curriculum.stages_of`)."""
        return total_steps(self)

    def options(self, section: str) -> dict[str, Any]:
        """Effective keyword arguments of ``section``'s factory: its defaults, then the
        problem's suggestions, then the explicit options (those the kind accepts)."""
        sec = getattr(self, section)
        own = section_options(section, sec.kind)
        out = {k: o.default for k, o in own.items()}
        for key, v in PROBLEMS[self.problem.name].defaults.items():
            s, _, k = key.partition(".")
            if s == section and k in own:
                out[k] = v
        out.update({k: v for k, v in sec.options.items() if k in own})
        return out

    def describe(self) -> str:
        """The whole tree with values, defaults and one-line docs (`pinnsight config`)."""
        from .describe import describe

        return describe(self)


def stage_weighting(run: WeightingSection, entry: dict[str, Any] | None) -> WeightingSection:
    """The ``weighting`` section of a stage whose ladder entry is ``entry`` (the module
    docstring of `pinnsight.experiments.curriculum`): ``run`` for None; with a ``kind``, that
    kind and the options ``entry`` gives (``freeze_from`` kept unless given); without one,
    ``run``'s kind with the options ``entry`` gives replacing its own (each whole: a
    ``weights`` table replaces the run's table). A bad kind or option is one line naming the key."""
    if entry is None:
        return run
    values = dict(entry)
    try:
        if "options" in values:
            raise ValueError("give the balancer's options as keys of the table, not under 'options'.")
        if "kind" not in values:
            values = {"kind": run.kind, **run.options, **values}
        values.setdefault("freeze_from", run.freeze_from)
        section = _make_section("weighting", WeightingSection, values)
        own = section_options("weighting", section.kind)  # the options this kind takes
        BALANCERS[section.kind](**{k: v for k, v in section.options.items() if k in own})  # ranges
        return section
    except ValueError as err:
        raise ValueError(f"`run.curriculum` weighting {dict(entry)!r}: {err}") from None


def _check_ranges(config: RunConfig, section: str) -> None:
    """The ranges of a kind's options are its factory's own checks: call the factory once
    (cheap: these build closures, no arrays) so a bad value is refused when the tree is made.
    Networks are left to `build_net` (building one allocates its weights)."""
    kind = getattr(config, section).kind
    args = ()
    if section == "sampling":  # a sampler's factory takes the domain first
        args = (run_problem(config).domain,)
    try:
        REGISTRIES[section][kind](*args, **config.options(section))
    except ValueError as err:
        raise ValueError(f"{section}.kind {kind!r}: {err}") from None


def _check_polish(optim: OptimSection) -> None:
    from ..optim import POLISHERS

    if optim.polish is not None and optim.polish not in POLISHERS:
        raise ValueError(f"unknown optim.polish {optim.polish!r}; choose one of: {', '.join(POLISHERS)}.")
    if (optim.polish is None) != (optim.polish_from is None):
        raise ValueError(
            "set optim.polish and optim.polish_from together (e.g. optim.polish=gauss_newton "
            "optim.polish_from=5000), or neither."
        )


def recipes_for(problem: str) -> dict[str, dict[str, Any]]:
    """The recipes ``problem`` can run: M1–M4 and the problem's own (``best``, …)."""
    own = PROBLEMS[problem].recipes if problem in PROBLEMS else {}
    return {**RECIPES, **own}


def recipe_values(name: str, problem: str) -> dict[str, Any]:
    """The tree values recipe ``name`` sets for ``problem``."""
    known = recipes_for(problem)
    if name not in known:
        raise ValueError(
            f"unknown recipe {name!r} for problem {problem!r}; choose one of: {', '.join(known)}."
        )
    return known[name]


def _assign(tree: dict[str, Any], key: str, value: Any, known_params=()) -> None:
    """Set ``key`` (``section.field``, ``section.option``, ``problem.params.x``) in a nested tree."""
    section, _, rest = key.partition(".")
    if section not in SECTIONS or not rest:
        raise ValueError(
            f"unknown config key {key!r}. Use section.key with sections {', '.join(SECTIONS)} "
            f"(`pinnsight config` lists every key), a short name ({', '.join(sorted(ALIASES))}) "
            f"or a parameter of the problem ({', '.join(known_params) or 'none'})."
        )
    sec = tree.setdefault(section, {})
    if section == "problem":
        name = rest.removeprefix("params.")
        if name == "name":
            raise ValueError("set the problem with `problem=NAME` (it resets the problem's parameters).")
        sec.setdefault("params", {})[name] = value
        return
    if rest == "kind" or rest in _fields(SECTIONS[section]):
        sec[rest] = value
        return
    sec.setdefault("options", {})[rest] = value


def _refuse_unknown_key(section: str, key: str, fields: dict[str, Any]) -> None:
    """One line naming ``section.key`` and the section's keys; a dotted key into a table-valued
    field (``run.curriculum.learning_rate``) is told to set the table whole."""
    head = key.partition(".")[0]
    hint = f"; set `{section}.{head}` whole (`pinnsight config` shows its value)" if head in fields else ""
    raise ValueError(f"unknown config key `{section}.{key}`; keys of [{section}]: {', '.join(fields)}{hint}.")


def _make_section(name: str, cls_: type, values: dict[str, Any]):
    fields = _fields(cls_)
    kw: dict[str, Any] = {}
    has_options = "options" in {f.name for f in dataclasses.fields(cls_)}
    extra = values.get("options")
    if not has_options and extra:  # `run.x=...` for a key [run] does not have
        _refuse_unknown_key(name, next(iter(extra)) if isinstance(extra, dict) else "options", fields)
    opts = dict(values.get("options", {}) or {}) if has_options else {}
    if not isinstance(opts, dict):
        raise ValueError(f"`{name}.options` must be a table, got {opts!r}.")
    for k, v in values.items():
        if k == "options":
            continue
        if k in fields:
            kw[k] = (
                v
                if name == "problem" and k == "params"
                else _check_field(name, fields[k], v)
                if not (k == "layers" and v is None)
                else None
            )
        elif name in REGISTRIES:
            opts[k] = v
        else:
            _refuse_unknown_key(name, k, fields)
    if name == "problem":
        if not isinstance(kw.get("params", {}), dict):
            raise ValueError(f"`problem.params` must be a table, got {kw['params']!r}.")
        kw["name"] = coerce(kw.get("name", "helmholtz"), str, "problem.name")
    if name in REGISTRIES:
        kw["kind"] = coerce(kw.get("kind", fields["kind"].default), str, f"{name}.kind")
        _check_kind(name, kw["kind"])
        kw["options"] = {k: _check_option(name, kw["kind"], k, v) for k, v in opts.items()}
    return cls_(**kw)


def _from_flat(data: dict[str, Any]) -> RunConfig:
    """A config saved by pinnsight 0.1 (flat keys) as a tree."""
    values = dict(data)
    params = values.pop("problem_params", {}) or {}
    if not isinstance(params, dict):
        raise ValueError(f"`problem_params` must be a table, got {params!r}.")
    problem = values.pop("problem")
    values = {k: v for k, v in values.items() if v is not None or k == "layers"}
    if values.get("layers") is None:
        values.pop("layers", None)
    return RunConfig.create(problem=problem, **{ALIASES.get(k, k): v for k, v in values.items()}, **params)


def _flatten_toml(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    legacy_params = data.pop("params", {})
    for k, v in data.items():
        if k in SECTIONS and isinstance(v, dict):
            for kk, vv in v.items():
                if k == "problem" and kk == "params" and isinstance(vv, dict):
                    out.update({f"problem.params.{p}": pv for p, pv in vv.items()})
                elif k == "problem" and kk == "name":
                    out["problem"] = vv
                else:
                    out[f"{k}.{kk}"] = vv
        else:
            out[k] = v
    if isinstance(legacy_params, dict):
        out.update({f"problem.params.{p}": pv for p, pv in legacy_params.items()})
    return out


def parse_value(text: str) -> Any:
    """Parse a CLI value: a Python literal (``4``, ``1e-3``, ``(2,50,1)``, ``true``) or a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, list):
        value = tuple(value)
    return value
