"""Canonical execution: witness outputs, input commitments, input validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import (
    FIELD_MODULUS,
    FieldElement,
    compute_input_commitment,
    felt_to_signed,
    run_witness,
)
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

SAMPLE = np.array([0.5, -0.25, 0.75, -1.0], dtype=np.float32)


def test_outputs_match_float_model(tiny_artifacts: CircuitArtifacts, tiny_model: bytes) -> None:
    execution = run_witness(tiny_artifacts, SAMPLE)
    session = ort.InferenceSession(tiny_model)
    expected = session.run(None, {"x": SAMPLE.reshape(1, 4)})[0].reshape(-1)
    (scale,) = execution.output_scales
    fixed = np.array(execution.outputs) / 2.0**scale
    assert np.allclose(fixed, expected, atol=1e-2)
    assert np.allclose(fixed, execution.rescaled_outputs)
    assert execution.output_shapes == ((1, 3),)
    assert execution.witness_path.is_file()
    assert execution.witness_bytes.startswith(b"{")


def test_input_commitment_outside_circuit_equals_witness(
    tiny_artifacts: CircuitArtifacts,
) -> None:
    execution = run_witness(tiny_artifacts, SAMPLE)
    commitment = compute_input_commitment(tiny_artifacts, SAMPLE)
    assert execution.input_commitment == commitment
    assert len(commitment.be_bytes) == 32
    assert commitment.hex == "0x" + commitment.be_bytes.hex()
    other = compute_input_commitment(tiny_artifacts, SAMPLE + np.float32(0.5))
    assert other != commitment


def test_same_input_in_other_shapes_is_the_same_execution(
    tiny_artifacts: CircuitArtifacts,
) -> None:
    a = run_witness(tiny_artifacts, SAMPLE)
    b = run_witness(tiny_artifacts, SAMPLE.reshape(1, 4).tolist())
    assert a == b


def test_witness_of_the_same_input_is_made_once(
    tiny_artifacts: CircuitArtifacts, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ezkl

    first = run_witness(tiny_artifacts, SAMPLE * 0.5)  # content-addressed: made here
    made: list[str] = []
    real = ezkl.gen_witness
    monkeypatch.setattr(ezkl, "gen_witness", lambda *a, **k: made.append(a[0]) or real(*a, **k))
    assert run_witness(tiny_artifacts, SAMPLE * 0.5) == first and made == []
    # A chosen workdir always runs the circuit.
    explicit = run_witness(tiny_artifacts, SAMPLE * 0.5, workdir=tmp_path)
    assert len(made) == 1 and explicit.outputs == first.outputs


def test_rejects_bad_inputs(tiny_artifacts: CircuitArtifacts) -> None:
    with pytest.raises(InvalidInput, match="3 values; the model takes 4"):
        run_witness(tiny_artifacts, SAMPLE[:3])
    with pytest.raises(InvalidInput, match="NaN or infinite"):
        run_witness(tiny_artifacts, np.array([0.1, np.nan, 0.2, 0.3]))
    with pytest.raises(InvalidInput, match="NaN or infinite"):
        compute_input_commitment(tiny_artifacts, np.array([0.1, 1e300, 0.2, 0.3]))
    with pytest.raises(InvalidInput, match="numeric"):
        run_witness(tiny_artifacts, np.array(["a", "b", "c", "d"]))


def test_refuses_out_of_range_input(tiny_artifacts: CircuitArtifacts) -> None:
    run_witness(tiny_artifacts, SAMPLE, check=True)
    with pytest.raises(InvalidInput, match="range"):
        run_witness(tiny_artifacts, np.full(4, 3e5, dtype=np.float32))


def test_field_element_helpers() -> None:
    assert felt_to_signed(FIELD_MODULUS - 5) == -5
    assert felt_to_signed(7) == 7
    fe = FieldElement(0x1234)
    assert FieldElement.from_le_hex(fe.to_le_hex()) == fe
    assert FieldElement.from_hex(fe.hex) == fe
    with pytest.raises(ValueError):
        FieldElement.from_hex(hex(FIELD_MODULUS))


def test_ezkl_agrees_on_signed_ints(tiny_artifacts: CircuitArtifacts) -> None:
    import ezkl

    execution = run_witness(tiny_artifacts, SAMPLE)
    for value in execution.outputs:
        assert ezkl.felt_to_int(FieldElement(value % FIELD_MODULUS).to_le_hex()) == value


def test_batched_model(srs_store: SrsStore, zk_root: Path) -> None:
    model = make_mlp_model((4, 5, 2), batch=3, seed=3)
    artifacts = build_circuit(
        model, make_calibration(4, rows=9), CircuitConfig(), srs_store,
        cache_dir=zk_root / "circuits",
    )
    assert artifacts.batch_size == 3 and artifacts.row_size == 4
    rows = make_calibration(4, rows=3, seed=9)
    execution = run_witness(artifacts, rows)
    assert len(execution.outputs) == 6
    assert execution.input_commitment == compute_input_commitment(artifacts, rows)
    with pytest.raises(InvalidInput, match=r"3 row\(s\) of 4"):
        run_witness(artifacts, rows[:2])
