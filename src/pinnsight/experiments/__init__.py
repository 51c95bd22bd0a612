"""The application tier: the config tree, building objects from it, run folders, many runs at
once, comparisons, the paper's studies and the reproduction. The library (`pinnsight.fit` and
its parts) never imports from here."""

from .config import MODELS, RECIPES, RunConfig
from .runs import load_run, run

__all__ = ["RunConfig", "RECIPES", "MODELS", "run", "load_run"]
