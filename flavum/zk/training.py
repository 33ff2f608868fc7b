"""Proven training steps: a step graph (flavum.ml.training) compiled into a circuit, run, proven,
and a chain of step proofs checked from a parent's params commitment to the new version's.

The circuit hashes every input tensor and its output (ezkl input and output visibility
"hashed"); its constants (learning rate, masks) are fixed params, so the verifying key names
the step (architecture, batch size, learning rate, scale) and nothing about the weights. The
public values of a step proof are, in order:

    [H(params), H(row_0), ..., H(row_{B-1}), H(new params)]

where H is ezkl's Poseidon over the tensor quantized at the circuit's one scale. The output is
at that same scale, so H(new params) is exactly the commitment the next step's proof shows for
its params input: proofs chain by equal commitments (`check_training_chain`).

No calibration: the scale is chosen (the step's precision, docs/training.md), the nonlinearity's
lookup table covers exactly the clipped logits, and logrows follows from the circuit's rows and
that table, so the same step always compiles to the same circuit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.errors import InvalidProof
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.mlp_step import MlpStep
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import SoftmaxStep
from flavum.ml.training import LogisticStep, TrainableFamily, TrainingStep
from flavum.zk.circuit import (
    CircuitDirectory,
    call_ezkl,
)
from flavum.zk.execution import FieldElement, compute_poseidon_commitment, felt_to_signed
from flavum.zk.fixed import build_fixed_circuit, hashed_input_run_args
from flavum.zk.proof import (
    Proof,
    ProofJob,
    circuit_proof_job,
    parse_proof,
    read_job_proof,
    run_proof_job,
    verify_against_key,
)
from flavum.zk.srs import SrsStore

DEFAULT_SCALE = 10
"""Fixed point 2**-10: the sigmoid table spans +-8 * 2**10 (logrows 15) and training on
breast_cancer ends within a point of float SGD (docs/training.md)."""


STEP_FAMILIES: dict[str, type[Any]] = {"logistic": LogisticStep, "softmax": SoftmaxStep,
                                       "mlp": MlpStep, "softmax-mlp": SoftmaxMlpStep}
"""Step families by name; a step circuit's record keeps the family's constructor arguments."""


def make_step(family: str, options: dict[str, Any]) -> TrainableFamily:
    """The step of `family` with `options` (its shape and learning rate)."""
    if family not in STEP_FAMILIES:
        raise InvalidInput(f"unknown training family {family!r}; known: {sorted(STEP_FAMILIES)}")
    try:
        step: TrainableFamily = STEP_FAMILIES[family](**options)
    except TypeError as exc:
        raise InvalidInput(f"options {options} do not fit the {family} family: {exc}") from exc
    return step


@dataclass(frozen=True)
class StepCircuit(CircuitDirectory):
    """A compiled training-step circuit with its keys on disk."""

    step: TrainingStep
    scale: int
    logrows: int
    srs_path: Path
    srs_sha256: str
    vk_hash: Hash32  # keccak256 of the vk: the identity of the step circuit


    @property
    def num_input_instances(self) -> int:
        """The params' commitment and one per row."""
        return 1 + self.step.batch

    @property
    def num_instances(self) -> int:
        return self.num_input_instances + 1


@dataclass(frozen=True)
class StepRun:
    """One canonical step: the commitments it shows and the new params (fixed point)."""

    params_commitment: FieldElement
    row_commitments: tuple[FieldElement, ...]
    new_params_commitment: FieldElement
    new_params: tuple[int, ...]  # value = integer / 2**scale
    scale: int
    witness_path: Path

    @property
    def new_params_values(self) -> np.ndarray:
        """The new params as floats (exact: integers over a power of two)."""
        return np.array(self.new_params, dtype=np.float64) / 2.0**self.scale


@dataclass(frozen=True)
class StepPublicValues:
    params_commitment: FieldElement
    row_commitments: tuple[FieldElement, ...]
    new_params_commitment: FieldElement


def build_step_circuit(step: TrainingStep, store: SrsStore, *, scale: int = DEFAULT_SCALE,
                       cache_dir: Path | str | None = None) -> StepCircuit:
    """Compile `step` into a circuit with keys, or reuse an identical earlier build.

    Artifacts go to `cache_dir/<key>` (default `<store.directory>/train-steps`).
    """
    if not 4 <= scale <= 16:
        raise InvalidInput(f"scale must lie in 4..16, not {scale}")
    bound = int(step.logit_bound * 2**scale)
    # The clipped logits are the nonlinearity's only inputs: its table spans them.
    run_args = hashed_input_run_args(scale, "hashed", lookup_range=(-bound, bound))

    def check(settings: dict[str, Any]) -> None:
        # Chaining needs the new params at the params' scale (then equal values hash equally).
        scales = set(settings["model_input_scales"]) | set(settings["model_output_scales"])
        if scales != {scale}:
            raise ModelRejected(f"the step graph's inputs and output have scales "
                                f"{sorted(scales)}, not all {scale}")

    root = Path(cache_dir) if cache_dir is not None else store.directory / "train-steps"
    fixed = build_fixed_circuit(f"{step.name}-step", step.make_graph(), run_args, 2 * bound + 1,
                                store, root, {"scale": scale}, check)
    return StepCircuit(fixed.directory, step, int(fixed.meta["scale"]), fixed.logrows,
                       fixed.srs_path, fixed.srs_sha256, fixed.vk_hash)


def compute_params_commitment(circuit: StepCircuit, params: np.ndarray) -> FieldElement:
    """The commitment a step proof shows for `params` (a model version's weight commitment)."""
    flat = circuit.step.check_params(params).astype(np.float32)
    return compute_poseidon_commitment(flat, circuit.scale)


def compute_row_commitment(circuit: StepCircuit, row: np.ndarray) -> FieldElement:
    """The commitment a step proof shows for one labelled row (its DATA's)."""
    flat = np.asarray(row, dtype=np.float64).reshape(-1)
    if flat.size != circuit.step.row_width or not np.all(np.isfinite(flat)):
        raise InvalidInput(f"a row is {circuit.step.row_width} finite values")
    return compute_poseidon_commitment(flat.astype(np.float32), circuit.scale)


def run_step(circuit: StepCircuit, params: np.ndarray, rows: np.ndarray,
             workdir: Path | str) -> StepRun:
    """The canonical step (ezkl gen_witness): new params and the commitments, in `workdir`.

    Raises InvalidInput when the params or rows do not fit the circuit (shape, labels, range).
    """
    import ezkl

    theta = circuit.step.check_params(params).astype(np.float32)
    batch = circuit.step.check_rows(rows).astype(np.float32)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    input_path, witness_path = workdir / "input.json", workdir / "witness.json"
    # float32 -> Python float is exact: the JSON carries exactly these values.
    input_data = [theta.tolist()] + [row.tolist() for row in batch]
    input_path.write_text(json.dumps({"input_data": input_data}))
    call_ezkl("witness generation of the step (are the values within range?)", InvalidInput,
              ezkl.gen_witness, str(input_path), str(circuit.compiled_path), str(witness_path))
    return read_step_run(circuit, witness_path)


def read_step_run(circuit: StepCircuit, witness_path: Path) -> StepRun:
    pretty = json.loads(Path(witness_path).read_text())["pretty_elements"]
    inputs = [FieldElement.from_hex(h) for tensor in pretty["processed_inputs"] for h in tensor]
    outputs = [FieldElement.from_hex(h) for tensor in pretty["processed_outputs"] for h in tensor]
    new_params = tuple(felt_to_signed(FieldElement.from_hex(h).value)
                       for tensor in pretty["outputs"] for h in tensor)
    if len(inputs) != circuit.num_input_instances or len(outputs) != 1:
        raise ModelRejected(f"the step witness has {len(inputs)} input and {len(outputs)} "
                            "output commitments")
    return StepRun(inputs[0], tuple(inputs[1:]), outputs[0], new_params, circuit.scale,
                   Path(witness_path))


def make_step_proof_job(circuit: StepCircuit, run: StepRun,
                        proof_path: Path | str | None = None) -> ProofJob:
    """The proof job of a step, for `prove_step` or any ProverPool."""
    return circuit_proof_job(circuit, circuit.srs_path, run.witness_path, proof_path, "hashed",
                             circuit.num_input_instances)


def prove_step(circuit: StepCircuit, run: StepRun) -> Proof:
    """Prove a canonical step in this process."""
    job = make_step_proof_job(circuit, run)
    run_proof_job(job)
    return read_job_proof(job)


def load_step_proof(circuit: StepCircuit, data: bytes) -> Proof:
    """A step's proof.json received from elsewhere."""
    return parse_proof(data, "hashed", circuit.num_input_instances)


def step_public_values(circuit: StepCircuit, proof: Proof) -> StepPublicValues:
    if len(proof.instances) != circuit.num_instances:
        raise InvalidProof(f"a step proof has {circuit.num_instances} public values, this one "
                           f"{len(proof.instances)}")
    values = [FieldElement(v) for v in proof.instances]
    return StepPublicValues(values[0], tuple(values[1:-1]), values[-1])


def verify_step(circuit: StepCircuit, proof: Proof) -> StepPublicValues:
    """Check `proof` against the step circuit's key; its public values, or InvalidProof."""
    values = step_public_values(circuit, proof)
    verify_against_key(proof, circuit, circuit.srs_path, "the step circuit's key")
    return values


def check_training_chain(
    circuit: StepCircuit,
    parent_commitment: FieldElement,
    proofs: Sequence[Proof],
    batches: Sequence[Sequence[FieldElement]],
    new_commitment: FieldElement,
) -> None:
    """InvalidProof unless `proofs` prove SGD steps from the parent's params to the new
    version's: each verifies, step i trains on exactly the rows `batches[i]` (their DATA
    commitments, in order), each starts from the params the previous one ended with, the first
    from `parent_commitment`, and the last ends at `new_commitment`."""
    if len(proofs) != len(batches) or not proofs:
        raise InvalidProof(f"{len(proofs)} step proofs for {len(batches)} batches")
    current = parent_commitment
    for index, (proof, batch) in enumerate(zip(proofs, batches, strict=True)):
        values = verify_step(circuit, proof)
        if values.params_commitment != current:
            raise InvalidProof(f"step {index} starts from params {values.params_commitment.hex}, "
                               f"not {current.hex} (a step skipped or out of order?)")
        if values.row_commitments != tuple(batch):
            raise InvalidProof(f"step {index} was proven on other rows than its batch")
        current = values.new_params_commitment
    if current != new_commitment:
        raise InvalidProof(f"the last step ends at params {current.hex}, not the new version's "
                           f"{new_commitment.hex}")
