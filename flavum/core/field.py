"""The proof system's scalar field (BN254, as ezkl's circuits use it) and the one byte form of a
proof the ledgers read: a row's KZG commitment point.

A proof's public values are field elements; an output x < 0 is the element p + x. Kept in core
so that a ledger reads a proof's public values with the same rule as the prover, without
depending on it.
"""

# The BN254 scalar field: ezkl's circuits work modulo this prime.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617

POINT_BYTES = 64  # a G1 point in a proof: x and y, 32 bytes big-endian each


def felt_to_signed(value: int) -> int:
    """A field element read as a signed integer: the upper half of the field is negative."""
    return value - FIELD_MODULUS if value > FIELD_MODULUS // 2 else value


def signed_to_felt(value: int) -> int:
    return value % FIELD_MODULUS
