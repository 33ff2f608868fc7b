"""The normalized logits models compile with ezkl, and the circuit's witness agrees with the
float reference (no keys, no proof: gen_settings, calibrate, compile, gen_witness)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from flavum.ml.examples import ExampleModel
from flavum.ml.normalize import normalize
from flavum.ml.reference import accuracy_report, run_float

ezkl = pytest.importorskip("ezkl")

ExampleFn = Callable[..., ExampleModel]
TEST_ROWS = 12


def _write_input(path: Path, rows: np.ndarray) -> str:
    path.write_text(json.dumps({"input_data": [rows.ravel().astype(float).tolist()]}))
    return str(path)


def circuit_outputs(model_bytes: bytes, samples: np.ndarray, inputs: np.ndarray, tmp: Path):
    """(logrows, witness outputs per input row) for the model compiled at its calibrated scale."""
    model, settings, circuit = tmp / "model.onnx", tmp / "settings.json", tmp / "model.ezkl"
    model.write_bytes(model_bytes)
    assert ezkl.gen_settings(str(model), str(settings))
    calibration = _write_input(tmp / "calibration.json", samples[:1])
    ezkl.calibrate_settings(
        calibration, str(model), str(settings), "resources",
        lookup_safety_margin=2.0, scale_rebase_multiplier=[1],
    )  # fmt: skip
    assert ezkl.compile_circuit(str(model), str(circuit), str(settings))
    outputs = []
    for index, row in enumerate(inputs):
        data = _write_input(tmp / f"input{index}.json", row[None])
        witness = tmp / f"witness{index}.json"
        ezkl.gen_witness(data, str(circuit), str(witness))
        rescaled = json.loads(witness.read_text())["pretty_elements"]["rescaled_outputs"][0]
        outputs.append([float(v) for v in rescaled])
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    return logrows, np.array(outputs)


@pytest.mark.parametrize(
    "family, dataset",
    [
        ("sklearn_logreg", "digits"),
        ("sklearn_logreg", "breast_cancer"),
        ("sklearn_mlp", "digits"),
        ("sklearn_mlp", "breast_cancer"),
        ("torch_mlp", "iris"),
        ("torch_cnn", "digits"),
    ],
)
def test_logits_circuit_agrees_with_onnxruntime(
    example: ExampleFn, family: str, dataset: str, tmp_path: Path
) -> None:
    case = example(family, dataset)
    result = normalize(case.onnx_bytes, case.samples)
    inputs = case.test_inputs[:TEST_ROWS]
    logrows, outputs = circuit_outputs(result.model_bytes, case.samples, inputs, tmp_path)
    assert logrows <= 16
    report = accuracy_report(
        run_float(result.model_bytes, inputs), outputs, result.postprocess,
        proven_output=result.proven_output,
    )  # fmt: skip
    assert report["top1_agreement"] == 1.0
    assert report["max_abs_error_probabilities"] < 0.02
