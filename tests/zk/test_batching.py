"""Batched circuits: N one-row inputs, one commitment per row, outputs split by row."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.core.errors import ConfigError, InvalidProof
from flavum.ml.batching import make_batched, run_batched
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.zk.circuit import (
    CircuitArtifacts,
    CircuitConfig,
    build_circuit,
    compute_calibration_data,
    read_model_input_shapes,
)
from flavum.zk.execution import (
    FIELD_MODULUS,
    compute_input_commitment,
    compute_input_commitments,
    outputs_per_row,
    pad_rows,
    run_row,
    run_witness,
)
from flavum.zk.proof import check_public_row, load_proof, prove, public_values, verify
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

N = 3


def make_cnn_model(seed: int = 0) -> bytes:
    """Conv(1->2, 3x3, pad 1) + Relu + Flatten + Gemm(32->3), input [n, 1, 4, 4]."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(scale=0.5, size=(2, 1, 3, 3)).astype(np.float32), "K"),
        numpy_helper.from_array(rng.normal(scale=0.1, size=2).astype(np.float32), "kb"),
        numpy_helper.from_array(rng.normal(scale=0.3, size=(3, 32)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(scale=0.1, size=3).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "K", "kb"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1],
                         kernel_shape=[3, 3], dilations=[1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def batched_artifacts(
    tiny_model: bytes, tiny_artifacts: CircuitArtifacts, srs_store: SrsStore, zk_root: Path
) -> CircuitArtifacts:
    """The tiny MLP batched by N, at the batch-1 circuit's input scale."""
    config = CircuitConfig(scales=(tiny_artifacts.input_scale,))
    return build_circuit(
        make_batched(tiny_model, N), make_calibration(4, rows=12), config, srs_store,
        cache_dir=zk_root / "circuits",
    )  # fmt: skip


@pytest.fixture(scope="module")
def cnn_artifacts(srs_store: SrsStore, zk_root: Path) -> CircuitArtifacts:
    return build_circuit(
        make_batched(make_cnn_model(), N), make_calibration(16, rows=6), CircuitConfig(),
        srs_store, cache_dir=zk_root / "circuits",
    )  # fmt: skip


def test_batched_artifacts(batched_artifacts: CircuitArtifacts) -> None:
    a = batched_artifacts
    assert (a.row_inputs, a.batch_size, a.row_size, a.input_size) == (N, N, 4, 4 * N)
    assert a.input_shape == (1, 4)
    assert a.commits_rows
    assert a.output_shapes == ((N, 3),)
    assert a.num_input_instances == N and a.num_instances == N + 3 * N
    again = CircuitArtifacts.load(a.directory, a.srs_path)
    assert again == a
    settings = json.loads(a.settings_path.read_text())
    run_args = settings["run_args"]
    assert run_args["disable_freivalds"] and run_args["ignore_range_check_inputs_outputs"]
    assert run_args["decomp_legs"] == 2
    assert run_args["decomp_base"] == max(2048, min(16384, 2 ** (a.logrows - 1)))


def test_run_args_by_model_kind(tiny_artifacts: CircuitArtifacts) -> None:
    one, batched = CircuitConfig().run_args(1), CircuitConfig().run_args(8)
    assert (one["decomp_base"], one["decomp_legs"]) == (128, 4)
    assert not one["ignore_range_check_inputs_outputs"] and not one["disable_freivalds"]
    assert (batched["decomp_base"], batched["decomp_legs"]) == (2048, 2)
    assert batched["ignore_range_check_inputs_outputs"] and batched["disable_freivalds"]
    # A batched model's table widens to the rows its circuit has, up to 16384 (2**28).
    assert [CircuitConfig().run_args(8, k)["decomp_base"] for k in (11, 12, 14, 15, 17)] == [
        2048, 2048, 8192, 16384, 16384]
    chosen = CircuitConfig(decomp_base=256, decomp_legs=3, check_io_range=True, freivalds=True)
    assert chosen.run_args(8, 15) == {**batched, "decomp_base": 256, "decomp_legs": 3,
                                       "ignore_range_check_inputs_outputs": False,
                                       "disable_freivalds": False}
    assert CircuitConfig(freivalds=False).run_args(1)["disable_freivalds"]
    assert not {"freivalds", "decomp_base", "check_io_range"} & set(CircuitConfig().to_json())
    with pytest.raises(ConfigError):
        CircuitConfig(decomp_legs=0)
    for config in (CircuitConfig(), chosen):
        assert CircuitConfig.from_json(config.to_json()) == config
    settings = json.loads(tiny_artifacts.settings_path.read_text())
    assert settings["run_args"]["disable_freivalds"] is False


def test_batched_row_out_of_range_refused_at_once(batched_artifacts: CircuitArtifacts) -> None:
    """Inputs are not range-checked in a batched circuit, but the operations still check their
    values: a row too large is refused when it runs, before any batch holds it."""
    run_row(batched_artifacts, make_calibration(4, rows=1))
    with pytest.raises(InvalidInput, match="range"):
        run_row(batched_artifacts, np.full(4, 3e5, dtype=np.float32))


def test_per_row_commitments_equal_batch_one_commitments(
    batched_artifacts: CircuitArtifacts, tiny_artifacts: CircuitArtifacts
) -> None:
    rows = make_calibration(4, rows=N, seed=5)
    execution = run_witness(batched_artifacts, rows)
    assert len(execution.input_commitments) == N
    for row, commitment in zip(rows, execution.input_commitments, strict=True):
        assert commitment == compute_input_commitment(batched_artifacts, row)
        # The DATA commitment of the row for the batch-1 circuit of the same model and scale.
        assert commitment == run_witness(tiny_artifacts, row).input_commitment
    assert compute_input_commitments(batched_artifacts, rows) == execution.input_commitments
    assert len(set(execution.input_commitments)) == N
    with pytest.raises(InvalidInput, match="one row of 4"):
        compute_input_commitment(batched_artifacts, rows)


def test_outputs_per_row_match_batch_one(
    batched_artifacts: CircuitArtifacts, tiny_artifacts: CircuitArtifacts, tiny_model: bytes
) -> None:
    rows = make_calibration(4, rows=N, seed=6)
    execution = run_witness(batched_artifacts, rows)
    per_row = outputs_per_row(batched_artifacts, execution.outputs)
    assert len(per_row) == N and all(len(r) == 3 for r in per_row)
    expected = run_batched(make_batched(tiny_model, N), rows)
    (scale,) = execution.output_scales
    assert np.allclose(np.array(per_row) / 2.0**scale, expected, atol=2e-2)
    for row, outputs in zip(rows, per_row, strict=True):
        single = run_witness(tiny_artifacts, row)
        assert single.output_scales == execution.output_scales
        assert tuple(single.outputs) == outputs
    assert outputs_per_row(tiny_artifacts, single.outputs) == [single.outputs]
    with pytest.raises(InvalidInput, match="outputs; the circuit has"):
        outputs_per_row(batched_artifacts, execution.outputs[:-1])


def test_pad_rows() -> None:
    artifacts = _fake_artifacts()
    rows = np.arange(8, dtype=np.float32).reshape(2, 4)
    padded = pad_rows(artifacts, rows)
    assert padded.shape == (N, 4)
    assert np.array_equal(padded, np.array([rows[0], rows[1], rows[1]]))
    assert np.array_equal(pad_rows(artifacts, rows[0]), np.repeat(rows[:1], N, axis=0))
    with pytest.raises(InvalidInput, match="1..3 per call"):
        pad_rows(artifacts, np.zeros((4, 4)))
    with pytest.raises(InvalidInput, match="rows of 4"):
        pad_rows(artifacts, np.zeros((2, 5)))
    with pytest.raises(InvalidInput, match="NaN"):
        pad_rows(artifacts, np.array([0.0, np.nan, 0.0, 0.0]))


def _fake_artifacts() -> CircuitArtifacts:
    from flavum.core.types import Hash32

    return CircuitArtifacts(
        directory=Path("unused"), key="k", config=CircuitConfig(), logrows=10,
        srs_path=Path("unused"), srs_sha256="", vk_hash=Hash32(b"\0" * 32), input_shape=(1, 4),
        input_scale=7, output_shapes=((N, 2),), output_scales=(7,), num_input_instances=N,
        model_sha256="", row_inputs=N,
    )  # fmt: skip


@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_row_outputs_do_not_depend_on_the_other_rows(
    which: str, request: pytest.FixtureRequest
) -> None:
    """A row's outputs run padded with copies of itself (the receipt given at once) equal its
    outputs in a full batch of different rows (the batch that is proven)."""
    artifacts: CircuitArtifacts = request.getfixturevalue(f"{which}_artifacts".replace(
        "mlp_", "batched_"))
    rows = make_calibration(artifacts.row_size, rows=N, seed=7)
    full = outputs_per_row(artifacts, run_witness(artifacts, rows, check=True).outputs)
    for i, row in enumerate(rows):
        assert run_row(artifacts, row) == full[i]
    # Changing one row leaves the other rows' outputs alone.
    changed = rows.copy()
    changed[0] = -changed[0]
    again = outputs_per_row(artifacts, run_witness(artifacts, changed).outputs)
    assert again[1:] == full[1:] and again[0] != full[0]


def test_calibration_groups_rows_by_call() -> None:
    cal = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert compute_calibration_data(cal, 1) == [cal.reshape(-1).tolist()]
    assert compute_calibration_data(cal, 3) == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]]


def test_batched_build_needs_whole_batches(
    tiny_model: bytes, srs_store: SrsStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="at least 3 rows"):
        build_circuit(make_batched(tiny_model, N), make_calibration(4, rows=2), CircuitConfig(),
                      srs_store, cache_dir=tmp_path)


def test_input_shapes_of_multi_input_models(tiny_model: bytes) -> None:
    assert read_model_input_shapes(make_batched(tiny_model, 2)) == ((1, 4), (1, 4))
    assert read_model_input_shapes(tiny_model) == ((1, 4),)
    two = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "two",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )  # fmt: skip
    with pytest.raises(ModelRejected, match="differ in shape"):
        read_model_input_shapes(helper.make_model(two).SerializeToString())


def test_batched_proof_binds_each_row(batched_artifacts: CircuitArtifacts) -> None:
    rows = make_calibration(4, rows=N, seed=8)
    execution = run_witness(batched_artifacts, rows)
    proof = prove(batched_artifacts, execution)
    verify(batched_artifacts, proof)
    proof = load_proof(batched_artifacts, proof.to_json())
    values = public_values(proof)
    assert values.input_commitments == execution.input_commitments
    assert values.outputs == execution.outputs
    per_row = outputs_per_row(batched_artifacts, values.outputs)
    for i, row in enumerate(rows):
        check_public_row(
            batched_artifacts, proof, i,
            input_commitment=compute_input_commitment(batched_artifacts, row),
            outputs=per_row[i],
        )  # fmt: skip
    with pytest.raises(InvalidProof, match="input commitment for row 1"):
        check_public_row(batched_artifacts, proof, 1,
                         input_commitment=execution.input_commitments[0])
    with pytest.raises(InvalidProof, match="row 2 outputs"):
        check_public_row(batched_artifacts, proof, 2, outputs=per_row[1])
    with pytest.raises(InvalidProof, match="outside the proof's 3 rows"):
        check_public_row(batched_artifacts, proof, 3, outputs=per_row[0])
    # Another row's commitment in a row's place is caught by the verifier.
    instances = list(proof.instances)
    instances[0], instances[1] = instances[1], instances[0]
    with pytest.raises(InvalidProof):
        verify(batched_artifacts, dataclasses.replace(proof, instances=tuple(instances)))
    instances = list(proof.instances)
    instances[N] = (instances[N] + 1) % FIELD_MODULUS
    with pytest.raises(InvalidProof):
        verify(batched_artifacts, dataclasses.replace(proof, instances=tuple(instances)))


def test_single_input_batched_model_keeps_one_commitment(
    srs_store: SrsStore, zk_root: Path
) -> None:
    artifacts = build_circuit(
        make_mlp_model((4, 5, 2), batch=3, seed=3), make_calibration(4, rows=9), CircuitConfig(),
        srs_store, cache_dir=zk_root / "circuits",
    )  # fmt: skip
    assert artifacts.row_inputs == 1 and artifacts.batch_size == 3
    assert not artifacts.commits_rows
    rows = make_calibration(4, rows=3, seed=9)
    execution = run_witness(artifacts, rows)
    assert compute_input_commitments(artifacts, rows) == (execution.input_commitment,)
    assert len(outputs_per_row(artifacts, execution.outputs)) == 3
