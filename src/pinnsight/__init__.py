"""pinnsight: physics-informed neural networks whose gradient pathologies you can see and fix.

Implements Wang, Teng & Perdikaris, "Understanding and mitigating gradient pathologies
in physics-informed neural networks", SIAM J. Sci. Comput. 43(5), 2021
(arXiv:2001.04536): gradient histograms and stiffness diagnostics, learning-rate
annealing and the modified MLP, on the paper's benchmarks and on your own PDEs.
"""

from . import autodiff as autodiff
from . import diagnostics as diagnostics
from . import sampling as sampling
from .autodiff import grad, hessian, laplacian, partial
from .config import MODELS, RunConfig
from .geometry import Box
from .nets import MLP, ModifiedMLP
from .problem import Condition, Problem, Reference
from .problems import PROBLEMS, get_problem
from .runner import load_run, run
from .train import DivergenceError, FitResult, fit, paper_optimizer
from .weighting import Balancer, annealing, fixed

__version__ = "0.1.0"

__all__ = [
    "Box",
    "Condition",
    "Problem",
    "Reference",
    "MLP",
    "ModifiedMLP",
    "Balancer",
    "fixed",
    "annealing",
    "fit",
    "FitResult",
    "DivergenceError",
    "paper_optimizer",
    "grad",
    "partial",
    "laplacian",
    "hessian",
    "RunConfig",
    "MODELS",
    "PROBLEMS",
    "get_problem",
    "run",
    "load_run",
]
