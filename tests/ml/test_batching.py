"""Batched graphs: N one-row inputs concatenated in front of a one-row model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.ml.batching import check_batched, get_row_input_name, make_batched, run_batched
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.examples import ExampleModel
from flavum.ml.normalize import normalize
from flavum.ml.reference import run_float

ExampleFn = Callable[..., ExampleModel]


def _gemm(batch: int | str = "n", reshape_to: list[int] | None = None) -> bytes:
    weight = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, "W")
    nodes = [helper.make_node("Gemm", ["x", "W"], ["h"], transB=1)]
    inits = [weight]
    out = "h"
    if reshape_to is not None:  # a Reshape that pins the batch dimension
        inits.append(numpy_helper.from_array(np.array(reshape_to, np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["h", "shape"], ["y"]))
        out = "y"
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [batch, 3])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _rows(n: int, size: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, size)).astype(np.float32)


def test_batched_graph_has_one_input_per_row() -> None:
    batched = onnx.load_from_string(make_batched(_gemm(), 5))
    assert [i.name for i in batched.graph.input] == [get_row_input_name("x", i) for i in range(5)]
    for value in batched.graph.input:
        assert [d.dim_value for d in value.type.tensor_type.shape.dim] == [1, 4]
    assert [d.dim_value for d in batched.graph.output[0].type.tensor_type.shape.dim] == [5, 3]
    assert batched.graph.node[0].op_type == "Concat"


@pytest.mark.parametrize("batch", ["n", 1])
def test_batched_outputs_equal_rows_one_by_one(batch: int | str) -> None:
    model = _gemm(batch)
    rows = _rows(4, 4)
    together = run_batched(make_batched(model, 4), rows)
    alone = np.concatenate([run_float(model, row[None]) for row in rows])
    assert together.shape == (4, 3)
    assert np.allclose(together, alone, atol=1e-6)


@pytest.mark.parametrize("family, dataset", [("torch_mlp", "digits"), ("torch_cnn", "digits"),
                                             ("sklearn_mlp", "iris")])
def test_normalized_examples_batch(example: ExampleFn, family: str, dataset: str) -> None:
    case = example(family, dataset)
    model = normalize(case.onnx_bytes, case.samples).model_bytes
    rows = case.test_inputs[:8]
    batched = make_batched(model, 8, case.samples)
    assert check_batched(model, batched, rows) <= 1e-5
    assert np.allclose(run_batched(batched, rows), run_float(model, rows), atol=1e-5)


def test_refuses_a_graph_that_pins_the_batch() -> None:
    with pytest.raises(ModelRejected, match="batched (graph|model)"):
        make_batched(_gemm(reshape_to=[1, 3]), 3)


def test_refuses_fixed_batches_and_bad_sizes() -> None:
    with pytest.raises(ModelRejected, match="already takes batches of 2"):
        make_batched(_gemm(2), 4)
    for n in (0, -1, 10_000, 2.0, True):
        with pytest.raises(InvalidInput, match="batch size"):
            make_batched(_gemm(), n)  # type: ignore[arg-type]


def test_run_batched_wants_one_row_per_input() -> None:
    batched = make_batched(_gemm(), 3)
    with pytest.raises(InvalidInput, match="takes 3 rows, got 2"):
        run_batched(batched, _rows(2, 4))


def _witness_outputs(model: Path, compiled: Path, rows: np.ndarray, tmp: Path, tag: str) -> list:
    import ezkl

    data = tmp / f"{tag}.json"
    data.write_text(json.dumps({"input_data": [row.ravel().tolist() for row in rows]}))
    witness = tmp / f"{tag}.witness.json"
    ezkl.gen_witness(str(data), str(compiled), str(witness))
    outputs = json.loads(witness.read_text())["pretty_elements"]["outputs"][0]
    per_row = len(outputs) // len(rows)
    return [outputs[i * per_row : (i + 1) * per_row] for i in range(len(rows))]


@pytest.mark.parametrize("family", ["torch_mlp", "torch_cnn"])
def test_circuit_rows_are_independent(example: ExampleFn, family: str, tmp_path: Path) -> None:
    """In the compiled circuit (no keys), a row's fixed-point outputs in a batch of different
    rows equal its outputs in a batch of copies of itself."""
    ezkl = pytest.importorskip("ezkl")
    case = example(family, "digits")
    n = 4
    batched = make_batched(normalize(case.onnx_bytes, case.samples).model_bytes, n)
    model, settings, compiled = (tmp_path / name for name in ("m.onnx", "s.json", "m.ezkl"))
    model.write_bytes(batched)
    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "hashed"
    run_args.param_visibility = "fixed"
    assert ezkl.gen_settings(str(model), str(settings), py_run_args=run_args)
    calibration = tmp_path / "calibration.json"
    samples = case.samples[:n]
    calibration.write_text(json.dumps({"input_data": [r.ravel().tolist() for r in samples]}))
    ezkl.calibrate_settings(
        str(calibration), str(model), str(settings), "resources",
        lookup_safety_margin=2.0, scale_rebase_multiplier=[1],
    )  # fmt: skip
    assert ezkl.compile_circuit(str(model), str(compiled), str(settings))
    rows = case.test_inputs[:n]
    together = _witness_outputs(model, compiled, rows, tmp_path, "mixed")
    for i, row in enumerate(rows):
        padded = _witness_outputs(model, compiled, np.repeat(row[None], n, axis=0), tmp_path,
                                  f"padded{i}")
        assert padded[0] == together[i]
        assert all(p == padded[0] for p in padded)
