"""pinnsight: physics-informed neural networks whose gradient pathologies you can see and fix.

Implements Wang, Teng & Perdikaris, "Understanding and mitigating gradient pathologies
in physics-informed neural networks", SIAM J. Sci. Comput. 43(5), 2021
(arXiv:2001.04536): gradient histograms and stiffness diagnostics, learning-rate
annealing and the modified MLP, on the paper's benchmarks and on your own PDEs.

This module is the library API. The application tier (config tree, run folders,
comparisons, the reproduction) lives in `pinnsight.experiments`; `run`, `load_run` and
`RunConfig` are re-exported from there for convenience.
"""

from . import _startup  # noqa: F401, I001 - first: the command's signals while it loads
from . import autodiff as autodiff
from . import callbacks as callbacks
from . import diagnostics as diagnostics
from . import nets as nets
from . import optim as optim
from . import sampling as sampling
from . import weighting as weighting
from .autodiff import grad, hessian, laplacian, partial
from .callbacks import Callback, FitContext, ProgressBar, TensorBoard
from .coefficients import Coefficient
from .diagnostics.doctor import Diagnosis, Finding, doctor
from .experiments.config import MODELS, RECIPES, RunConfig
from .experiments.runs import load_run, run
from .geometry import Box
from .nets import MLP, AbstractNetwork, ModifiedMLP
from .observations import Observations
from .optim import paper_optimizer, switch_at
from .problem import Condition, Problem, Reference
from .problems import PROBLEMS, get_problem
from .train import DivergenceError, FitResult, TrainState, fit, init_state, make_step
from .weighting import BalanceInputs, Balancer, annealing, fixed

__version__ = "0.2.0"

__all__ = [
    "Box",
    "Condition",
    "Problem",
    "Reference",
    "Observations",
    "Coefficient",
    "AbstractNetwork",
    "MLP",
    "ModifiedMLP",
    "Balancer",
    "BalanceInputs",
    "fixed",
    "annealing",
    "fit",
    "init_state",
    "make_step",
    "TrainState",
    "FitResult",
    "DivergenceError",
    "Callback",
    "FitContext",
    "ProgressBar",
    "TensorBoard",
    "paper_optimizer",
    "switch_at",
    "grad",
    "partial",
    "laplacian",
    "hessian",
    "RunConfig",
    "RECIPES",
    "MODELS",
    "PROBLEMS",
    "get_problem",
    "run",
    "load_run",
    "doctor",
    "Diagnosis",
    "Finding",
]
