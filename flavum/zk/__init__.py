"""Proving layer: models compiled into ezkl circuits, canonical execution, proofs, prover pools.

Importing this package does not load ezkl; each function loads it when it first needs it.
"""

from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import (
    CircuitRun,
    FieldElement,
    compute_input_commitment,
    compute_input_commitments,
    outputs_per_row,
    pad_rows,
    run_row,
    run_witness,
)
from flavum.zk.fake import FakeProverPool
from flavum.zk.interface import JobState, JobStatus, ProverPool
from flavum.zk.pool_inline import InlineProverPool
from flavum.zk.pool_local import LocalProverPool
from flavum.zk.pool_ray import RayProverPool
from flavum.zk.proof import (
    Proof,
    ProofJob,
    PublicValues,
    check_public_row,
    check_public_values,
    load_proof,
    make_proof_job,
    prove,
    public_values,
    verify,
)
from flavum.zk.srs import SrsStore

__all__ = [
    "CircuitArtifacts",
    "CircuitConfig",
    "CircuitRun",
    "FakeProverPool",
    "FieldElement",
    "InlineProverPool",
    "JobState",
    "JobStatus",
    "LocalProverPool",
    "Proof",
    "ProofJob",
    "ProverPool",
    "PublicValues",
    "RayProverPool",
    "SrsStore",
    "build_circuit",
    "check_public_row",
    "check_public_values",
    "compute_input_commitment",
    "compute_input_commitments",
    "load_proof",
    "make_proof_job",
    "outputs_per_row",
    "pad_rows",
    "prove",
    "public_values",
    "run_row",
    "run_witness",
    "verify",
]
