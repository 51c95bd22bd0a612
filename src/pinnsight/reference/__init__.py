"""Classical reference solutions computed by pinnsight itself (no network, no data files)."""

from .burgers import burgers_cole_hopf
from .cavity import CavitySolution, cavity_reference, solve_cavity

__all__ = ["CavitySolution", "solve_cavity", "cavity_reference", "burgers_cole_hopf"]
