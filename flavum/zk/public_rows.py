"""Public rows: a circuit whose input rows are public values of its proof (common data).

A DATA object marked common needs no hiding, so a model may take its rows as public values
(input_visibility "public"): no hash in the circuit and no committed column, only the row's
quantized values among the public values, in front of the outputs. For a batched model
(one input per row, flavum.ml.batching) the public values are [row 0, ..., row N-1, outputs],
each row `row_size` field elements. A row's DATA commitment is then computed from those very
field elements (flavum.core.model_binding.compute_public_row_commitment: keccak256 of a tag
and the 32-byte words), which the rollup contract recomputes from the proof's public values
with one keccak a row: the proof binds each inference to its DATA object without any hash
in the circuit.
"""

from __future__ import annotations

from typing import Any

from flavum.core.model_binding import compute_public_row_commitment
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts
from flavum.zk.execution import FieldElement, prepare_row


def compute_row_values(artifacts: CircuitArtifacts, row: Any) -> tuple[int, ...]:
    """The public values a public-row circuit shows for `row`: each value quantized at the
    circuit's input scale (ezkl.float_to_felt, as f32, as the witness does)."""
    import ezkl

    if artifacts.config.input_visibility != "public":
        raise InvalidInput("the circuit does not take its rows as public values")
    flat = prepare_row(artifacts, row)
    return tuple(
        FieldElement.from_le_hex(
            ezkl.float_to_felt(float(x), artifacts.input_scale, ezkl.PyInputType.F32)).value
        for x in flat
    )


def compute_public_row_data_commitment(artifacts: CircuitArtifacts, row: Any) -> Hash32:
    """The DATA commitment of `row` for a public-row circuit (see the module docstring)."""
    return compute_public_row_commitment(compute_row_values(artifacts, row))
