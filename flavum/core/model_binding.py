"""A model's binding: what its DeployModel fixes about how its proofs are checked.

A MODEL object's `metadata_hash` is the hash of its `ModelBinding`: the hash of the node's full
model record (ONNX hash, scales, shapes, accuracy...), the SRS the keys were made with, the
on-chain verifier's identity (the runtime code hash of ezkl's verifier for the model's key,
and the digest of its verifying-key artifact (VKA) with the code hash of the reusable verifier
that reads it) and the layout its proofs are read with. The signer of the DeployModel commits to
all of it; a ledger binds a verifier to the model only when it matches (ModelRegistry.sol, whose
`FlavumHashes.modelBindingHash` mirrors `compute_model_binding_hash`), so no key can bind a
verifier of its choosing to someone else's model. Whether the committed verifier really is
ezkl's for the model's ONNX is checked off chain by recompiling it (`flavum verify --models`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from flavum.core.encoding import compute_tag, hash_tagged, keccak256
from flavum.core.errors import ConfigError
from flavum.core.types import ZERO_HASH, Hash32

MODEL_BINDING_TAG: Final = compute_tag("model.binding")
MODEL_BINDING_ABI: Final = (
    "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint32", "uint32",
)
# How the rollup reads a proof's input commitments (the binding's last word; 0 and 1 encode
# exactly as the bool this word was before, so older bindings keep their hashes). The low byte
# is the mode; for public rows the bits above it hold the row width (values per row).
INPUTS_ONE: Final = 0  # public value 0: one commitment for the whole proof
INPUTS_PER_ROW: Final = 1  # public values 0..N-1: one Poseidon commitment per row
INPUTS_ROW_POINTS: Final = 2  # none public: row r's is keccak256 of the proof's r-th KZG point
# A training-step circuit: [H(params), H(row_0) .., H(new params)], one proof per step, the
# proofs of one Train chained into one trace leaf (docs/training.md).
INPUTS_TRAINING_STEP: Final = 3
INPUTS_PUBLIC_ROWS: Final = 4  # the rows themselves: row r's is compute_public_row_commitment
# A trainable architecture's inference circuit, one row: [H(params), H(row), outputs]; the
# leaf's model word is compute_version_word(circuit, H(params)) (docs/training.md).
INPUTS_VERSION: Final = 5
MAX_ROW_WIDTH: Final = 2**24 - 1  # what the layout word holds above its mode byte
PUBLIC_ROW_TAG: Final = compute_tag("data.public_row")


@dataclass(frozen=True)
class ModelBinding:
    """The fields a MODEL's metadata hash commits to (FlavumHashes.ModelBinding)."""

    record_hash: Hash32  # keccak256 of the node's model record (canonical JSON)
    srs_hash: Hash32  # sha256 of the SRS file the keys were made with
    verifier_code_hash: Hash32  # EXTCODEHASH of the model's own verifier; zero: none (> 24 KB)
    vka_digest: Hash32  # keccak256 of the VKA words, read by the reusable verifier
    reusable_code_hash: Hash32  # EXTCODEHASH of the reusable verifier that reads the VKA
    rows: int  # trace rows per proof (padding rows included)
    per_row_inputs: bool  # one input commitment per row, else one for the whole proof
    row_points: bool = False  # per row, as KZG points in the proof (polycommit), not public
    row_width: int = 0  # > 0: public rows (common data), this many input values per row
    training_step: bool = False  # a training-step circuit (INPUTS_TRAINING_STEP)
    version_inference: bool = False  # a trainable architecture's inference circuit (INPUTS_VERSION)

    @property
    def has_own_verifier(self) -> bool:
        return self.verifier_code_hash != ZERO_HASH

    @property
    def inputs(self) -> int:
        """The layout word the chain reads (INPUTS_*)."""
        return compute_inputs_layout(self.per_row_inputs, self.row_points, self.row_width,
                                     self.training_step, self.version_inference)


def compute_inputs_layout(per_row_inputs: bool, row_points: bool, row_width: int = 0,
                          training_step: bool = False, version_inference: bool = False) -> int:
    """The layout word of a layout: INPUTS_* in its low byte, and for public rows the row
    width above it. Row points and public rows are per-row inputs by definition."""
    if row_width:
        if (not 0 < row_width <= MAX_ROW_WIDTH or row_points or training_step
                or version_inference):
            raise ConfigError(f"public rows of {row_width} values are no layout")
        return INPUTS_PUBLIC_ROWS | row_width << 8
    if version_inference:
        if row_points or training_step:
            raise ConfigError("a version's inference circuit reads its inputs as public values")
        return INPUTS_VERSION
    if training_step:
        return INPUTS_TRAINING_STEP
    if row_points:
        return INPUTS_ROW_POINTS
    return INPUTS_PER_ROW if per_row_inputs else INPUTS_ONE


def compute_public_row_commitment(values: Sequence[int]) -> Hash32:
    """The DATA commitment of a row proven as public values (common data): keccak256 of the
    tag and the row's field elements as 32-byte big-endian words, as the rollup contract hashes
    the proof's public values (FlavumHashes.publicRowCommitment). The tag keeps it apart from
    a KZG point's digest of the same bytes."""
    return keccak256(PUBLIC_ROW_TAG + b"".join(v.to_bytes(32, "big") for v in values))


def compute_model_binding_hash(binding: ModelBinding) -> Hash32:
    """keccak256(abi.encode(MODEL_BINDING_TAG, <the binding's fields in order>))."""
    return hash_tagged(MODEL_BINDING_TAG, MODEL_BINDING_ABI, (
        binding.record_hash, binding.srs_hash, binding.verifier_code_hash, binding.vka_digest,
        binding.reusable_code_hash, binding.rows, binding.inputs,
    ))

