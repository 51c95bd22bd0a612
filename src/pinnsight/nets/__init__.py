"""Networks of one point, one file each, and the protocol they follow (`base`).

A new network is one file here plus one line in `NETWORKS` (the name the config tree
and the CLI use).
"""

from .base import AbstractNetwork, check_network, glorot_normal, input_stats
from .fourier import FourierEmbedding, FourierMLP
from .mlp import MLP
from .modified_mlp import ModifiedMLP
from .pirate import PirateNet, physics_informed_init
from .rwf import RWFMLP, Dense, factorise

__all__ = [
    "AbstractNetwork",
    "check_network",
    "glorot_normal",
    "input_stats",
    "MLP",
    "ModifiedMLP",
    "FourierMLP",
    "FourierEmbedding",
    "RWFMLP",
    "Dense",
    "factorise",
    "PirateNet",
    "physics_informed_init",
    "NETWORKS",
]

NETWORKS = {
    "mlp": MLP,
    "modified_mlp": ModifiedMLP,
    "fourier_mlp": FourierMLP,
    "rwf_mlp": RWFMLP,
    "pirate": PirateNet,
}
"""Network classes by config name: ``cls(layers, *, key, shift, scale, **options)``."""
