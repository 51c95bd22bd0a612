r"""Data-parallel training: one step's points sharded over several devices (`jax.sharding`).

With ``devices = N > 1`` (`pinnsight.fit`, `pinnsight.train.make_step`, ``run.devices``,
``pinnsight train --devices N``) the step runs on a one-axis `jax.sharding.Mesh`
(axis ``"data"``) over the first N of ``jax.devices()``:

- the `TrainState` (parameters, optimiser, balancer and sampler state, key) is *replicated*
  on every device (`replicate`);
- each step's points are drawn inside the compiled step as before and then constrained to
  be *sharded* along the data axis (`shard_points`, `jax.lax.with_sharding_constraint`):
  device $d$ holds rows $[dB/N, (d+1)B/N)$ of every batch of $B$ points.

The program itself is unchanged: a loss is still the mean over all $B$ points,
$\mathcal{L} = \frac1B\sum_{i=1}^B \ell_i = \frac1N\sum_d \frac{N}{B}\sum_{i\in d}\ell_i$, and
XLA's SPMD partitioner (GSPMD, Xu et al. 2021, arXiv:2105.04663) computes each device's
partial sums of losses and gradients on its rows and inserts the all-reduce that sums them.
So the losses and gradients equal the one-device ones up to float round-off (the order of
the sums changes), and the updated state comes out replicated again. ``devices = 1`` (the
default) does not touch the step at all.

**Several hosts** (multi-controller JAX, https://docs.jax.dev/en/latest/multi_process.html):
run one process per host, each with the same command; ``PINNSIGHT_DISTRIBUTED=1`` makes the
``pinnsight`` command call `jax.distributed.initialize()` first (`initialize_distributed`),
which under Slurm (``srun``, one task per host) reads the coordinator address, process
count and process id from ``SLURM_JOB_ID``, ``SLURM_STEP_NODELIST``, ``SLURM_NTASKS``,
``SLURM_PROCID`` and ``SLURM_LOCALID`` (elsewhere set ``JAX_COORDINATOR_ADDRESS=host:port``,
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``). ``jax.devices()`` then lists the devices of every host, and
``--devices`` is the *global* count (hosts × devices per host). A library user calls
`jax.distributed.initialize()` before anything else instead. Each process writes its own
run folder: give each its own ``--out`` (e.g. ``--out runs/x/proc$SLURM_PROCID``). See the
README section "Several devices and hosts".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "data_mesh", "check_batch", "replicate", "shard_points", "initialize_distributed"]

AXIS = "data"
"""The mesh axis the points are sharded along."""

DISTRIBUTED_ENV = "PINNSIGHT_DISTRIBUTED"
"""Set to ``1`` to make the ``pinnsight`` command call `jax.distributed.initialize()`."""


def data_mesh(devices: int | Mesh | None) -> Mesh | None:
    """The mesh of ``devices``: None for one device (nothing changes), else a one-axis
    ``"data"`` mesh over the first ``devices`` of ``jax.devices()`` (or the given mesh).

    Raises:
        ValueError: fewer devices than asked for, a count below 1, or a mesh without a
            ``"data"`` axis.
    """
    if devices is None:
        return None
    if isinstance(devices, Mesh):
        if devices.axis_names != (AXIS,):
            raise ValueError(
                f"a data-parallel mesh needs the one axis {AXIS!r}, got axes {devices.axis_names}."
            )
        return devices if devices.size > 1 else None
    n = int(devices)
    available = jax.devices()
    if n < 1:
        raise ValueError(f"`devices` must be >= 1, got devices = {n}.")
    if n > len(available):
        hint = (
            f" (on CPU, XLA_FLAGS=--xla_force_host_platform_device_count={n} before starting gives {n})"
            if available[0].platform == "cpu"
            else ""
        )
        raise ValueError(
            f"devices = {n} but JAX sees {len(available)} {available[0].platform} device(s); "
            f"use --devices / run.devices <= {len(available)}{hint}."
        )
    if n == 1:
        return None
    return Mesh(np.array(available[:n]), (AXIS,), axis_types=(AxisType.Auto,))


def check_batch(sizes: Mapping[str, int], mesh: Mesh | None) -> None:
    """Refuse batch sizes that do not split evenly over the mesh's devices."""
    if mesh is None:
        return
    n = mesh.size
    bad = {term: b for term, b in sizes.items() if b % n}
    if bad:
        term, b = next(iter(bad.items()))
        fix = max(n, b // n * n)
        raise ValueError(
            f"batch size {b} of {term!r} is not divisible by devices = {n}; "
            f"set sampling.batch_size to a multiple of {n} (e.g. {fix})."
        )


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """``tree``'s arrays placed whole on every device of ``mesh`` (unchanged without one)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def replicated_constraint(tree: Any, mesh: Mesh | None) -> Any:
    """Inside a compiled function: ``tree`` constrained to be replicated on ``mesh``."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, PartitionSpec()))


def shard_points(points: Mapping[str, jax.Array], mesh: Mesh | None) -> dict[str, jax.Array]:
    """Inside a compiled function: each ``(B, d)`` batch sharded by rows over the data axis."""
    if mesh is None:
        return dict(points)
    spec = NamedSharding(mesh, PartitionSpec(AXIS))
    return {k: jax.lax.with_sharding_constraint(v, spec) for k, v in points.items()}


def initialize_distributed(environ: Mapping[str, str] | None = None) -> bool:
    """Call `jax.distributed.initialize()` if ``PINNSIGHT_DISTRIBUTED=1`` (before any
    computation); returns whether it did. JAX finds the cluster itself under Slurm (``SLURM_*``)
    and reads ``JAX_COORDINATOR_ADDRESS``; ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``, which
    it does not read, are passed on here when set."""
    environ = os.environ if environ is None else environ
    if environ.get(DISTRIBUTED_ENV, "").strip().lower() not in ("1", "true", "yes"):
        return False
    names = {"num_processes": "JAX_NUM_PROCESSES", "process_id": "JAX_PROCESS_ID"}
    jax.distributed.initialize(**{k: int(environ[v]) for k, v in names.items() if v in environ})
    return True
