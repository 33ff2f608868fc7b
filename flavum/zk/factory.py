"""`open_pool`: the prover pool the `[prover]` table of the configuration names.

  backend = "local"   spawned worker processes on this machine (workers, threads_per_worker)
  backend = "inline"  proofs made in the caller's thread
  backend = "ray"     Ray tasks on the cluster at ray_address

max_retries applies to every backend, timeout_s to local and ray. An unknown backend or a
missing setting raises ConfigError.
"""

from __future__ import annotations

from typing import Protocol

from flavum.core.errors import ConfigError
from flavum.zk.interface import ProverPool
from flavum.zk.pool_inline import InlineProverPool
from flavum.zk.pool_local import LocalProverPool
from flavum.zk.pool_ray import RayProverPool


class PoolSettings(Protocol):
    """The prover fields of the configuration the factory reads (the node's NodeConfig)."""

    prover: str  # local | inline | ray
    prover_workers: int
    prover_threads: int | None
    prover_retries: int
    prover_timeout_s: float
    ray_address: str


def open_pool(settings: PoolSettings) -> ProverPool:
    if settings.prover == "inline":
        return InlineProverPool(max_retries=settings.prover_retries)
    if settings.prover == "local":
        return LocalProverPool(workers=settings.prover_workers,
                               threads_per_worker=settings.prover_threads,
                               max_retries=settings.prover_retries,
                               timeout_s=settings.prover_timeout_s)
    if settings.prover == "ray":
        if not settings.ray_address:
            raise ConfigError("prover backend ray needs [prover] ray_address")
        return RayProverPool(settings.ray_address, threads_per_job=settings.prover_threads,
                             max_retries=settings.prover_retries,
                             timeout_s=settings.prover_timeout_s)
    raise ConfigError(f"unknown prover backend {settings.prover!r}: local, inline or ray")
