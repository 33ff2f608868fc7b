"""Fixtures for the ledger tests: an embedded EVM with the contracts, anvil on a free port,
and one tiny ezkl model (Gemm 4-8-3, hashed input) with a real proof and its verifier; the
same model batched by 4 (one input commitment per row) with real proofs of full and padded
batches."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from flavum.core.genesis import Genesis
from flavum.core.transactions import address_of
from flavum.core.types import Address
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import embedded_web3, rpc_web3
from flavum.l1.evm_deploy import deploy_contracts, predict_domain
from flavum.l1.evm_identity import EMBEDDED_CHAIN_ID, compute_deployment_domain
from flavum.l1.interface import CircuitFiles, ModelLayout
from flavum.l1.solc import REPO_ROOT
from flavum.l1.verifiers import VerifierBuild, build_model_verifier
from flavum.ml.batching import make_batched
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import CircuitRun, pad_rows, run_witness
from flavum.zk.proof import Proof, prove
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

DEPLOYER_KEY = b"\x31" * 32
SEQUENCER_KEY = b"\x32" * 32
ALICE_KEY = b"\x33" * 32
BOB_KEY = b"\x34" * 32
SEQUENCER = address_of(SEQUENCER_KEY)
ALICE = address_of(ALICE_KEY)
BOB = address_of(BOB_KEY)
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
FUNDED = (DEPLOYER_KEY, SEQUENCER_KEY, ALICE_KEY, BOB_KEY)


# The domain the ledger tests' transactions are signed for: the rollup DEPLOYER_KEY deploys
# first on a fresh embedded EVM (the one-step executor's).
DOMAIN = compute_deployment_domain(EMBEDDED_CHAIN_ID, address_of(DEPLOYER_KEY), 0)
GENESIS = Genesis(DOMAIN)  # no allocations: batch 0 starts from the empty state
GENESIS_ROOT = GENESIS.root


def deploy(w3: object, forced_window: int = 5, genesis: Genesis = GENESIS,
           challenge_window: int = 0, escape_delay: int | None = None,
           rotation_delay: int | None = None) -> EvmLedger:
    """The contracts on `w3`; batches final at once unless a test opens a challenge window;
    the default escape delay (14 days of blocks) unless a test freezes the rollup. The
    genesis's allocations, for the domain this deployment gets (DOMAIN on a fresh embedded
    EVM)."""
    genesis = Genesis(predict_domain(w3, address_of(DEPLOYER_KEY)), genesis.allocations)
    return deploy_contracts(w3, DEPLOYER_KEY, sequencer=SEQUENCER, genesis=genesis,
                            forced_window_blocks=forced_window,
                            challenge_window_blocks=challenge_window,
                            escape_delay_blocks=escape_delay,
                            rotation_delay_blocks=rotation_delay, sequencer_key=SEQUENCER_KEY)


@pytest.fixture
def ledger() -> EvmLedger:
    """Fresh embedded EVM with the contracts deployed (about 0.1 s)."""
    return deploy(embedded_web3(FUNDED))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """anvil on 127.0.0.1 and a free port, started by the test and stopped after."""

    def __init__(self, chain_id: int | None = None, port: int | None = None,
                 state: Path | None = None) -> None:
        """`port`: a given one (an anvil restarted where the node looks for it); `state`: the
        chain is loaded from this file and saved to it when anvil stops (without it a restart
        is a new chain)."""
        self.port = _free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        chain = [] if chain_id is None else ["--chain-id", str(chain_id)]
        saved = [] if state is None else ["--state", str(state), "--preserve-historical-states"]
        self.proc = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent", *chain,
             *saved],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.w3 = rpc_web3(self.url)
                break
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)
        for key in FUNDED:
            self.rpc("anvil_setBalance", [address_of(key).hex(), hex(10**24)])

    def rpc(self, method: str, params: list[object]) -> object:
        reply = self.w3.provider.make_request(method, params)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    if not ANVIL.is_file() or shutil.which("node") is None:
        pytest.skip("anvil is not installed (npm ci)")
    node = Anvil()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def anvil_as_embedded() -> Iterator[Anvil]:
    """anvil with the embedded EVM's chain id: a fresh deployment there has DOMAIN, so the
    batches the helpers sign for DOMAIN are this rollup's."""
    if not ANVIL.is_file() or shutil.which("node") is None:
        pytest.skip("anvil is not installed (npm ci)")
    node = Anvil(chain_id=EMBEDDED_CHAIN_ID)
    try:
        yield node
    finally:
        node.stop()


@dataclass(frozen=True)
class ProvenModel:
    artifacts: CircuitArtifacts
    verifier: VerifierBuild
    execution: CircuitRun
    proof: Proof
    inputs: np.ndarray
    directory: Path  # its verifier is kept under directory/evm, where a ledger looks for it

    def circuit(self, layout: ModelLayout = ModelLayout()) -> CircuitFiles:
        """The circuit's files, as a ledger builds (here: reads back) the model's verifier."""
        return circuit_files(self.artifacts, self.directory, layout)


def circuit_files(artifacts: CircuitArtifacts, directory: Path, layout: ModelLayout
                  ) -> CircuitFiles:
    return CircuitFiles(artifacts.vk_path, artifacts.settings_path, artifacts.srs_path,
                        directory, layout)


def make_proven_model(root: Path, batch: int) -> ProvenModel:
    store = SrsStore(root / "srs")
    artifacts = build_circuit(make_mlp_model((4, 8, 3), batch=batch), make_calibration(4),
                              CircuitConfig(), store, cache_dir=root / "circuits")
    inputs = make_calibration(4, rows=batch, seed=7)
    execution = run_witness(artifacts, inputs)
    proof = prove(artifacts, execution)
    directory = root / f"verifier-{batch}"
    verifier = build_model_verifier(artifacts.vk_path, artifacts.settings_path,
                                    artifacts.srs_path, directory / "evm")
    return ProvenModel(artifacts, verifier, execution, proof, inputs, directory)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ProvenModel:
    """Gemm 4-8-3, one row, hashed input: a real proof (0.3 s) and its verifier (~5 s)."""
    return make_proven_model(tmp_path_factory.mktemp("l1zk"), batch=1)


@dataclass(frozen=True)
class PerRowModel:
    """A batched model (make_batched: one input, so one Poseidon commitment, per row) with a
    real proof of `full` (N distinct rows) and of `padded` (the first `real` of them, the
    last one repeated up to N, as the node packs a batch that is not full)."""

    artifacts: CircuitArtifacts
    verifier: VerifierBuild
    full: CircuitRun
    full_proof: Proof
    padded: CircuitRun
    padded_proof: Proof
    real: int
    inputs: np.ndarray  # the N rows of `full`
    directory: Path  # its verifier is kept under directory/evm

    def circuit(self, layout: ModelLayout) -> CircuitFiles:
        return circuit_files(self.artifacts, self.directory, layout)


def make_per_row_model(root: Path, n: int, real: int | None = None,
                       config: CircuitConfig = CircuitConfig()) -> PerRowModel:
    store = SrsStore(root / "srs")
    artifacts = build_circuit(make_batched(make_mlp_model((4, 8, 3)), n),
                              make_calibration(4, rows=4 * n), config, store,
                              cache_dir=root / "circuits")
    rows = make_calibration(4, rows=n, seed=7)
    full = run_witness(artifacts, rows)
    real = n - 1 if real is None else real
    padded = run_witness(artifacts, pad_rows(artifacts, rows[:real]))
    directory = root / f"verifier-rows-{n}"
    verifier = build_model_verifier(artifacts.vk_path, artifacts.settings_path,
                                    artifacts.srs_path, directory / "evm")
    return PerRowModel(artifacts, verifier, full, prove(artifacts, full), padded,
                       prove(artifacts, padded), real, rows, directory)


@pytest.fixture(scope="session")
def per_row(tmp_path_factory: pytest.TempPathFactory) -> PerRowModel:
    """Gemm 4-8-3 batched by 4 with make_batched: instances [c_0..c_3, 4 x 3 outputs]."""
    return make_per_row_model(tmp_path_factory.mktemp("l1zk-rows"), n=4)


@pytest.fixture(scope="session")
def per_row_points(tmp_path_factory: pytest.TempPathFactory) -> PerRowModel:
    """The same, inputs committed with KZG (polycommit): instances are the 4 x 3 outputs, and
    the proof's first 4 points commit to the rows."""
    return make_per_row_model(tmp_path_factory.mktemp("l1zk-points"), n=4,
                              config=CircuitConfig(input_visibility="polycommit"))


@pytest.fixture(scope="session")
def per_row_public(tmp_path_factory: pytest.TempPathFactory) -> PerRowModel:
    """The same with public rows (common data): instances are the 4 rows of 4 values, then the
    4 x 3 outputs."""
    return make_per_row_model(tmp_path_factory.mktemp("l1zk-public"), n=4,
                              config=CircuitConfig(input_visibility="public"))


def address(value: Address) -> str:
    return "0x" + value.hex()
