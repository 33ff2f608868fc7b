"""A model's binding (flavum.core.model_binding): what a MODEL's metadata hash commits to.
Vectors for the Solidity side (FlavumHashes.modelBindingHash, tests/l1/test_vectors.py), and
the property a registration relies on: any other field is another hash."""

from dataclasses import fields, replace

import pytest

from flavum.core.encoding import encode_abi, keccak256
from flavum.core.errors import ConfigError
from flavum.core.field import FIELD_MODULUS
from flavum.core.model_binding import (
    INPUTS_PUBLIC_ROWS,
    MODEL_BINDING_ABI,
    MODEL_BINDING_TAG,
    PUBLIC_ROW_TAG,
    ModelBinding,
    compute_model_binding_hash,
    compute_public_row_commitment,
)
from flavum.core.types import ZERO_HASH, Hash32
from tests.vectors_util import check_vectors


def word(n: int) -> Hash32:
    return Hash32(bytes([n]) * 32)


OWN = ModelBinding(word(1), word(2), word(3), word(4), word(5), 1, False)
CASES = [
    OWN,
    # No verifier of its own (over the size limit): its VKA on the reusable verifier.
    replace(OWN, verifier_code_hash=ZERO_HASH, rows=16),
    # A batched model with one input commitment per row.
    replace(OWN, rows=4, per_row_inputs=True),
    # The same with its commitments as KZG points in the proof (polycommit).
    replace(OWN, rows=12, per_row_inputs=True, row_points=True),
    # Public rows (common data) of 64 values, batched by 13 and alone.
    replace(OWN, rows=13, per_row_inputs=True, row_width=64),
    replace(OWN, row_width=4),
    # A training-step circuit: its proofs chained per Train (docs/training.md).
    replace(OWN, training_step=True),
    # A trainable architecture's inference circuit: [H(params), H(row), outputs].
    replace(OWN, version_inference=True),
    ModelBinding(ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH, 0, False),
    ModelBinding(word(0xFF), word(0xFE), word(0xFD), word(0xFC), word(0xFB), 2**32 - 1, True),
]


def binding_json(b: ModelBinding) -> dict[str, object]:
    return {"record_hash": "0x" + b.record_hash.hex(), "srs_hash": "0x" + b.srs_hash.hex(),
            "verifier_code_hash": "0x" + b.verifier_code_hash.hex(),
            "vka_digest": "0x" + b.vka_digest.hex(),
            "reusable_code_hash": "0x" + b.reusable_code_hash.hex(), "rows": b.rows,
            "per_row_inputs": b.per_row_inputs, "row_points": b.row_points,
            "row_width": b.row_width, "training_step": b.training_step,
            "version_inference": b.version_inference}


def test_model_binding_vectors():
    rows = [{"binding": binding_json(b), "hash": "0x" + compute_model_binding_hash(b).hex()}
            for b in CASES]
    check_vectors("core/model_binding.json",
                  {"tag": "0x" + MODEL_BINDING_TAG.hex(), "cases": rows})


def test_the_binding_hash_is_the_tagged_hash_of_its_fields():
    assert MODEL_BINDING_TAG == keccak256(b"flavum.model.binding")
    encoded = encode_abi(("bytes32", *MODEL_BINDING_ABI), (
        MODEL_BINDING_TAG, word(1), word(2), word(3), word(4), word(5), 1, 0))
    # Seven 32-byte words after the tag: the hashes, rows (uint32) and the inputs layout
    # (uint8; 0 and 1 encode as the bool it was, so older bindings keep their hashes).
    assert len(encoded) == 32 * 8 and encoded[-64:] == (1).to_bytes(32, "big") + bytes(32)
    assert compute_model_binding_hash(OWN) == keccak256(encoded)


def test_any_other_field_is_another_binding():
    """Another verifier's code, VKA, SRS, record or layout: never the same metadata hash."""
    other = {"record_hash": word(9), "srs_hash": word(9), "verifier_code_hash": word(9),
             "vka_digest": word(9), "reusable_code_hash": word(9), "rows": 2,
             "per_row_inputs": True, "row_points": True, "row_width": 3,
             "training_step": True, "version_inference": True}
    assert set(other) == {f.name for f in fields(ModelBinding)}
    hashes = {compute_model_binding_hash(replace(OWN, **{name: value}))
              for name, value in other.items()}
    assert len(hashes) == len(other) and compute_model_binding_hash(OWN) not in hashes


def test_a_binding_names_its_own_verifier_or_none():
    assert OWN.has_own_verifier
    assert not replace(OWN, verifier_code_hash=ZERO_HASH).has_own_verifier


def test_public_rows_put_the_row_width_above_the_mode():
    assert replace(OWN, row_width=64).inputs == INPUTS_PUBLIC_ROWS | 64 << 8
    for bad in ({"row_width": 2**24}, {"row_width": 3, "row_points": True}):
        with pytest.raises(ConfigError):
            _ = replace(OWN, **bad).inputs


ROWS = [
    [],
    [0],
    [1, 2, 3, 4],
    [FIELD_MODULUS - 1, FIELD_MODULUS // 2, 7],  # negative values are the field's upper half
    list(range(64)),
]


def test_public_row_commitment_vectors():
    """A public row's DATA commitment (FlavumHashes.publicRowCommitment, tests/l1/test_vectors)."""
    cases = [{"values": [hex(v) for v in row],
              "commitment": "0x" + compute_public_row_commitment(row).hex()} for row in ROWS]
    check_vectors("core/public_row.json", {"tag": "0x" + PUBLIC_ROW_TAG.hex(), "cases": cases})


def test_a_public_row_commitment_is_the_tagged_words():
    row = [5, FIELD_MODULUS - 5]
    assert PUBLIC_ROW_TAG == keccak256(b"flavum.data.public_row")
    expected = keccak256(PUBLIC_ROW_TAG + (5).to_bytes(32, "big")
                         + (FIELD_MODULUS - 5).to_bytes(32, "big"))
    assert compute_public_row_commitment(row) == expected
    # Another order, another value, or the untagged bytes (a KZG point's digest): another hash.
    others = {compute_public_row_commitment(row[::-1]), compute_public_row_commitment([5, 6]),
              keccak256((5).to_bytes(32, "big") + (FIELD_MODULUS - 5).to_bytes(32, "big"))}
    assert expected not in others
