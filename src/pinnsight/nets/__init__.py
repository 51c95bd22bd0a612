"""Networks of one point, one file each, and the protocol they follow (`base`).

A new network is one file here plus one line in `NETWORKS` (the name the config tree
and the CLI use).
"""

from .base import AbstractNetwork, check_network, glorot_normal, input_stats
from .mlp import MLP
from .modified_mlp import ModifiedMLP

__all__ = [
    "AbstractNetwork",
    "check_network",
    "glorot_normal",
    "input_stats",
    "MLP",
    "ModifiedMLP",
    "NETWORKS",
]

NETWORKS = {"mlp": MLP, "modified_mlp": ModifiedMLP}
"""Network classes by config name: ``cls(layers, *, key, shift, scale)``."""
