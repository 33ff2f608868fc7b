"""Shared fixtures: tiny ONNX models built with onnx.helper, one SRS store per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.srs import SrsStore


def make_mlp_model(sizes: tuple[int, ...] = (4, 8, 3), batch: int = 1, seed: int = 0) -> bytes:
    """Gemm/Relu MLP with layer sizes `sizes` (e.g. 4-8-3), input [batch, sizes[0]]."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current = "x"
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = rng.normal(scale=0.5, size=(n_out, n_in)).astype(np.float32)
        b = rng.normal(scale=0.1, size=n_out).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [out], transB=1))
        current = out
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [current], [f"r{i}"]))
            current = f"r{i}"
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, sizes[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, sizes[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def make_calibration(row_size: int, rows: int = 16, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(rows, row_size)).astype(np.float32)


@pytest.fixture(scope="session")
def zk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zk")


@pytest.fixture(scope="session")
def srs_store(zk_root: Path) -> SrsStore:
    return SrsStore(zk_root / "srs")


@pytest.fixture(scope="session")
def tiny_model() -> bytes:
    return make_mlp_model((4, 8, 3))


@pytest.fixture(scope="session")
def tiny_calibration() -> np.ndarray:
    return make_calibration(4)


@pytest.fixture(scope="session")
def tiny_artifacts(
    tiny_model: bytes, tiny_calibration: np.ndarray, srs_store: SrsStore, zk_root: Path
) -> CircuitArtifacts:
    """Gemm 4-8-3 + Relu, hashed input: logrows ~10, built once per session."""
    return build_circuit(
        tiny_model, tiny_calibration, CircuitConfig(), srs_store, cache_dir=zk_root / "circuits"
    )
