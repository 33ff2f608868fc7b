"""The gas limit of each kind of rollup transaction. Every transaction is sent with an explicit
limit (`eth_estimateGas` under-estimates ezkl verifiers, evm_client.py)."""

from collections.abc import Sequence
from dataclasses import dataclass

from flavum.l1.interface import ProvenInference


@dataclass(frozen=True)
class GasPolicy:
    """Explicit gas limits. A limit only caps: the sender pays for the gas used."""

    batch_base: int = 400_000
    per_own_verify: int = 1_500_000  # measured 0.5-1.1M
    per_reusable_verify: int = 2_500_000  # measured 0.7-1.5M
    per_trace_row: int = 40_000
    per_forced: int = 60_000
    per_tx: int = 30_000  # hash it, its leaf, and its share of the four trees
    challenge: int = 2_000_000  # a one-step fraud proof: measured under 1M for every type
    # Batch data in calldata: EIP-7623's floor (40 gas a nonzero byte) plus sha256 and memory.
    per_data_byte: int = 48
    deploy_verifier: int = 6_000_000  # measured 2.7-3.4M
    default: int = 1_000_000
    block_cap: int = 29_000_000  # stay under the usual 30M block gas limit

    def batch_limit(self, inferences: Sequence[ProvenInference], reusable: Sequence[bool],
                    forced: int, txs: int, calldata: int) -> int:
        gas = self.batch_base + self.per_forced * forced + self.per_tx * txs + 16 * calldata
        for inference, is_reusable in zip(inferences, reusable, strict=True):
            gas += self.per_reusable_verify if is_reusable else self.per_own_verify
            gas += self.per_trace_row * len(inference.rows)
        return min(gas, self.block_cap)
