"""A whole node: store, sequencer, models, prover pool and proof manager, wired from a config."""

from dataclasses import dataclass, field

from flavum.core.batch import Withdrawal, compute_withdrawal_leaf
from flavum.core.codec import to_hex
from flavum.core.errors import ConfigError, NotFound
from flavum.core.merkle import compute_tree_proof
from flavum.core.types import Hash32
from flavum.da.factory import open_store
from flavum.l1.factory import open_ledger
from flavum.ml.onnx_check import IntakeLimits
from flavum.node.config import LedgerSpec, NodeConfig, list_keys, load_key
from flavum.node.ledgers import LedgerLink
from flavum.node.models import DeployOptions, ModelService
from flavum.node.prover import ProofManager
from flavum.node.publisher import BatchPublisher
from flavum.node.sandbox import ResourceLimits
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store
from flavum.node.training import TrainingService
from flavum.node.version_inference import VersionInference
from flavum.zk.circuit import CircuitConfig
from flavum.zk.factory import open_pool
from flavum.zk.interface import ProverPool
from flavum.zk.srs import SrsStore


@dataclass
class Node:
    config: NodeConfig
    store: Store
    sequencer: Sequencer
    models: ModelService
    prover: ProofManager
    pool: ProverPool
    training: TrainingService
    ledgers: list[LedgerLink] = field(default_factory=list)

    @classmethod
    def open(cls, config: NodeConfig, pool: ProverPool | None = None) -> "Node":
        store = Store(config.db_path)
        srs = SrsStore.from_file(config.srs_file) if config.srs_file else SrsStore(
            config.home / "srs")
        options = DeployOptions(min_agreement=config.min_agreement,
                                circuit=CircuitConfig(max_logrows=config.max_logrows),
                                limits=IntakeLimits(config.max_tensor_elements,
                                                    config.max_activation_elements,
                                                    config.max_logrows))
        models = ModelService(config.home, store, srs, options, ResourceLimits(
            config.compile_memory_mb, config.compile_cpu_s, config.compile_timeout_s))
        local_da = config.home / "da"
        calldata = config.data_store.startswith("evm-calldata")
        data_store = open_store(str(local_da) if calldata or not config.data_store
                                else config.data_store)
        training = TrainingService(config.home, store, srs, models.resources)
        publisher = BatchPublisher(store, models, data_store, training)
        sequencer = Sequencer(config, store, models, publisher=publisher)
        sequencer.trainer = training
        versions = VersionInference(training)
        sequencer.versions = publisher.versions = versions
        pool = pool or open_pool(config)
        prover = ProofManager(store, sequencer, models, pool, config.home / "proofs",
                              pack_wait_s=config.prover_pack_wait_s, training=training,
                              versions=versions)
        sequencer.ready_to_seal = prover.all_done
        node = cls(config, store, sequencer, models, prover, pool, training)
        try:
            node.ledgers = [node._link(spec) for spec in config.ledgers]
            if calldata:  # batch data rides in the EVM ledger's batch transactions
                from flavum.da.evm_calldata import EvmCalldataStore

                name = config.data_store.partition(":")[2] or "evm"
                ledger = node.ledger(name).ledger
                if not ledger.capabilities.carries_batch_data:
                    raise ConfigError(f"data_store {config.data_store!r}: ledger {name!r} "
                                      "cannot carry batch data in its transactions")
                publisher.data_store = EvmCalldataStore(ledger, data_store)
        except BaseException:
            node.close()
            raise
        return node

    def _link(self, spec: LedgerSpec) -> LedgerLink:
        from flavum.node.watcher import LedgerWatcher

        home = self.config.home
        funded = [load_key(home, name) for name in list_keys(home)]
        opened = open_ledger(spec, home, genesis=self.sequencer.genesis,
                             load_key=lambda name: load_key(home, name), funded_keys=funded)
        cursor = home / f"watcher-{spec.name}.db"
        if opened.ephemeral:  # a new in-process chain at every start: its old cursor is void
            cursor.unlink(missing_ok=True)
        watcher = LedgerWatcher(opened.ledger, self.sequencer.submit_system, self.config.domain,
                                cursor, confirmations=spec.confirmations,
                                start_block=opened.start_block)
        link = LedgerLink(spec.name, opened.ledger, watcher, self.store, self.sequencer,
                          self.models, home, confirmations=spec.confirmations,
                          training=self.training, versions=self.prover.versions)
        if opened.ephemeral:
            link.forget_chain()
        return link

    def withdrawal_proof(self, withdrawal_id: Hash32) -> tuple[Withdrawal, int, int,
                                                              tuple[Hash32, ...]]:
        """A withdrawal with its batch number, index and Merkle proof in the withdrawal root."""
        found = self.store.find_withdrawal(withdrawal_id)
        if found is None:
            raise NotFound(f"no withdrawal {to_hex(withdrawal_id)}")
        withdrawal, batch_number = found
        batch = None if batch_number is None else self.store.get_batch(batch_number)
        if batch is None:
            raise NotFound(f"withdrawal {to_hex(withdrawal_id)} is not in a sealed batch yet")
        first, last = self.store.batch_seq_span(batch)
        withdrawals = self.store.withdrawals_in(first, last)
        index = [w.withdrawal_id for w in withdrawals].index(withdrawal_id)
        leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
        return withdrawal, batch.header.number, index, compute_tree_proof(leaves, index)

    def ledger(self, name: str) -> LedgerLink:
        for link in self.ledgers:
            if link.name == name:
                return link
        raise ConfigError(f"no ledger named {name!r} in this node's config")

    def tick(self) -> None:
        """Blocks and batches on time, proofs collected: the ticker calls this."""
        self.sequencer.tick()
        self.prover.poll()

    def close(self) -> None:
        for link in self.ledgers:
            link.watcher.close()
        self.sequencer.close()
        self.pool.close()
        self.store.close()
