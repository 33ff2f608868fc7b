"""A whole node: store, sequencer, models, prover pool and proof manager, wired from a config."""

from dataclasses import dataclass

from flavum.core.errors import ConfigError
from flavum.node.config import NodeConfig
from flavum.node.models import DeployOptions, ModelService
from flavum.node.prover import ProofManager
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store
from flavum.zk.circuit import CircuitConfig
from flavum.zk.pool import InlineProverPool, LocalProverPool, ProverPool
from flavum.zk.srs import SrsStore


@dataclass
class Node:
    config: NodeConfig
    store: Store
    sequencer: Sequencer
    models: ModelService
    prover: ProofManager
    pool: ProverPool

    @classmethod
    def open(cls, config: NodeConfig, pool: ProverPool | None = None) -> "Node":
        store = Store(config.db_path)
        srs = SrsStore.from_file(config.srs_file) if config.srs_file else SrsStore(
            config.home / "srs")
        options = DeployOptions(min_agreement=config.min_agreement,
                                circuit=CircuitConfig(max_logrows=config.max_logrows))
        models = ModelService(config.home, store, srs, options)
        sequencer = Sequencer(config, store, models)
        pool = pool or make_pool(config)
        prover = ProofManager(store, sequencer, models, pool, config.home / "proofs")
        return cls(config, store, sequencer, models, prover, pool)

    def tick(self) -> None:
        """Blocks and batches on time, proofs collected: the ticker calls this."""
        self.sequencer.tick()
        self.prover.poll()

    def close(self) -> None:
        self.pool.close()
        self.store.close()


def make_pool(config: NodeConfig) -> ProverPool:
    if config.prover == "inline":
        return InlineProverPool(max_retries=config.prover_retries)
    if config.prover == "local":
        return LocalProverPool(workers=config.prover_workers,
                               threads_per_worker=config.prover_threads,
                               max_retries=config.prover_retries,
                               timeout_s=config.prover_timeout_s)
    if config.prover == "ray":
        if not config.ray_address:
            raise ConfigError("prover backend ray needs [prover] ray_address")
        from flavum.zk.pool import RayProverPool

        return RayProverPool(config.ray_address, threads_per_job=config.prover_threads,
                             max_retries=config.prover_retries,
                             timeout_s=config.prover_timeout_s)
    raise ConfigError(f"unknown prover backend {config.prover!r}: local, inline or ray")
