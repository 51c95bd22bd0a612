"""`RunConfig`: the full, checked record of one training run.

Defaults live here and in each problem's factory; a run differs from them only by
overrides (``--set key=value`` on the CLI, a TOML file, or keyword arguments), and the
resolved config is written beside the results as ``config.json``.
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import PROBLEMS, problem_defaults

__all__ = ["RunConfig", "MODELS", "parse_value"]

MODELS: dict[str, tuple[str, bool]] = {
    "M1": ("mlp", False),
    "M2": ("mlp", True),
    "M3": ("modified_mlp", False),
    "M4": ("modified_mlp", True),
}
"""The paper's four models: (network, learning-rate annealing on?)."""


@dataclass(frozen=True)
class RunConfig:
    r"""Everything that determines a run (saved as the run folder's ``config.json``).

    The defaults are the paper's set-up (PAPER §5). Fields:

    - ``problem``, ``model`` (M1–M4), ``seed``, ``steps``;
    - ``batch_size``: points per sampler per step, one int or a dict by term name
      (``{"residual": 512}``; terms not named keep 128); ``layers``: the network widths
      (default: the problem's);
    - ``learning_rate``, ``decay_rate``, ``decay_steps``: Adam with
      $\eta_0\gamma^{t/T}$;
    - ``balance_every``, ``annealing_variant`` (official | paper), ``annealing_alpha``,
      ``annealing_statistic`` (global | layerwise; default: the problem's): M2/M4 only;
    - ``sampling`` (uniform | rad), ``rad_pool``, ``rad_k``, ``rad_c``: where the
      residual points come from (`pinnsight.sampling`);
    - ``chunk_size``: steps per compiled chunk; ``x64``: float64 for this run;
    - ``hist_steps``, ``hist_bins``, ``stiffness_every``, ``stiffness_iters``,
      ``stiffness_terms``: diagnostics (`pinnsight.diagnostics`);
    - ``problem_params``: the problem's own parameters (e.g. ``Re`` for the cavity).
    """

    problem: str = "helmholtz"
    model: str = "M1"
    steps: int = 40_000
    seed: int = 0
    batch_size: int | dict[str, int] = 128
    layers: tuple[int, ...] | None = None
    learning_rate: float = 1e-3
    decay_rate: float = 0.9
    decay_steps: int = 1000
    balance_every: int = 10
    annealing_variant: str = "official"
    annealing_alpha: float | None = None
    annealing_statistic: str | None = None
    sampling: str = "uniform"
    rad_pool: int = 8192
    rad_k: float = 1.0
    rad_c: float = 1.0
    chunk_size: int = 500
    x64: bool = False
    hist_steps: tuple[int, ...] = ()
    hist_bins: int = 60
    stiffness_every: int = 0
    stiffness_iters: int = 20
    stiffness_terms: bool = False
    problem_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(
                f"unknown problem {self.problem!r}; choose one of: {', '.join(sorted(PROBLEMS))}."
            )
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(MODELS)}.")
        checked = {
            n: getattr(self, n) for n in ("steps", "decay_steps", "balance_every", "chunk_size", "rad_pool")
        }
        if isinstance(self.batch_size, dict):
            checked.update({f"batch_size[{k!r}]": v for k, v in self.batch_size.items()})
        else:
            checked["batch_size"] = self.batch_size
        for name, v in checked.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {name} = {v!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if self.annealing_variant not in ("official", "paper"):
            raise ValueError(
                f"unknown annealing_variant {self.annealing_variant!r}; choose one of: official, paper."
            )
        if self.annealing_statistic not in (None, "global", "layerwise"):
            raise ValueError(
                f"unknown annealing_statistic {self.annealing_statistic!r}; choose one of: global, layerwise."
            )
        if self.sampling not in ("uniform", "rad"):
            raise ValueError(f"unknown sampling {self.sampling!r}; choose one of: uniform, rad.")
        if not (self.rad_k >= 0 and self.rad_c > 0):
            raise ValueError(
                f"need rad_k >= 0 and rad_c > 0, got rad_k = {self.rad_k}, rad_c = {self.rad_c}."
            )
        if self.stiffness_every < 0:
            raise ValueError(f"`stiffness_every` must be >= 0, got {self.stiffness_every}.")
        valid = problem_defaults(self.problem)
        unknown = set(self.problem_params) - set(valid)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for problem {self.problem!r}; "
                f"valid: {', '.join(valid)}."
            )
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(v) for v in self.layers))
        object.__setattr__(self, "hist_steps", tuple(int(v) for v in self.hist_steps))

    # -- overrides ----------------------------------------------------------------------
    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "problem_params"]

    def override(self, **values: Any) -> RunConfig:
        """A copy with config fields or problem parameters replaced (checked by name)."""
        own = set(self.keys())
        params = dict(self.problem_params)
        fields: dict[str, Any] = {}
        problem = values.get("problem", self.problem)
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem {problem!r}; choose one of: {', '.join(sorted(PROBLEMS))}.")
        pnames = set(problem_defaults(problem))
        for k, v in values.items():
            if k in own:
                fields[k] = v
            elif k in pnames:
                params[k] = v
            else:
                raise ValueError(
                    f"unknown config key {k!r}. Config keys: {', '.join(sorted(own))}; "
                    f"parameters of problem {problem!r}: {', '.join(sorted(pnames))}."
                )
        return dataclasses.replace(self, **fields, problem_params=params)

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
        """Apply the keys of a TOML file (top level, or a ``[problem]`` table for parameters)."""
        data = tomllib.loads(Path(path).read_text())
        values = dict(data.pop("params", {}))
        values.update(data)
        return self.override(**values)

    # -- derived ------------------------------------------------------------------------
    @property
    def network(self) -> str:
        return MODELS[self.model][0]

    @property
    def annealing(self) -> bool:
        return MODELS[self.model][1]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config key(s) {sorted(unknown)} in saved config.")
        return cls(**data)


def parse_value(text: str) -> Any:
    """Parse a CLI value: a Python literal (``4``, ``1e-3``, ``(2,50,1)``, ``true``) or a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, list):
        value = tuple(value)
    return value
