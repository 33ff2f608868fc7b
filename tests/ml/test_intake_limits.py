"""Bounded model intake: a tiny graph that asks for huge tensors is refused before anything
runs it (ONNX shape inference only), naming the node and the size; no tensor of a model may be
read from outside the uploaded bytes, wherever it sits in the graph."""

from __future__ import annotations

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.ml.errors import ModelRejected, ModelTooLarge
from flavum.ml.onnx_check import IntakeLimits, load_model

OPSET = [helper.make_opsetid("", 17)]


def pad_bomb(columns: int) -> bytes:
    """One Pad node whose pads initializer asks for `columns` more columns: about 150 bytes."""
    pads = numpy_helper.from_array(np.array([0, 0, 0, columns], dtype=np.int64), "pads")
    graph = helper.make_graph(
        [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad0")], "bomb",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", columns + 10])], [pads])
    return helper.make_model(graph, opset_imports=OPSET).SerializeToString()


@pytest.mark.parametrize("columns", [10**7, 10**8, 10**10, 10**15])
def test_a_pad_bomb_is_refused_at_once_naming_its_node(columns: int) -> None:
    data = pad_bomb(columns)
    assert len(data) < 200
    start = time.process_time()
    with pytest.raises(ModelTooLarge) as refused:
        load_model(data)
    assert time.process_time() - start < 5  # nothing was allocated or run
    assert str(refused.value) == (
        f"node 'pad0' (Pad) makes tensor 'y' of shape [1, {columns + 10}]: "
        f"{columns + 10:,} elements, over the limit of {2**22:,} per tensor "
        "(max_tensor_elements)")
    assert refused.value.code == "model_too_large"


def test_a_small_pad_passes_and_the_limits_are_configurable() -> None:
    load_model(pad_bomb(1000))
    with pytest.raises(ModelTooLarge, match="over the limit of 1,000 per tensor"):
        load_model(pad_bomb(1000), limits=IntakeLimits(max_tensor_elements=1000))


def test_many_tensors_together_are_bounded() -> None:
    """Twenty Relus of 100k elements each: every tensor fits, all of them together do not."""
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu{i}")
             for i in range(20)]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["n", 100_000])],
        [helper.make_tensor_value_info("t20", TensorProto.FLOAT, ["n", 100_000])])
    data = helper.make_model(graph, opset_imports=OPSET).SerializeToString()
    load_model(data)
    with pytest.raises(ModelTooLarge, match=r"the graph's tensors up to node 'relu\d+' \(Relu\) "
                                            r"hold [\d,]+ elements, over the limit of 1,000,000"):
        load_model(data, limits=IntakeLimits(max_activation_elements=1_000_000))


def _external(tensor: onnx.TensorProto) -> onnx.TensorProto:
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "keys/sequencer.key"
    return tensor


def _model(nodes, inits=(), sparse=()) -> bytes:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], list(inits),
        sparse_initializer=list(sparse))
    model = helper.make_model(graph, opset_imports=OPSET)
    return model.SerializeToString()


def test_external_data_is_refused_in_an_initializer() -> None:
    weight = _external(numpy_helper.from_array(np.ones(3, np.float32), "w"))
    data = _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[weight])
    with pytest.raises(ModelRejected, match="initializer 'w' uses external data; embed it"):
        load_model(data)


def test_external_data_is_refused_in_a_constant_nodes_value() -> None:
    value = _external(numpy_helper.from_array(np.ones(3, np.float32), "c"))
    nodes = [helper.make_node("Constant", [], ["w"], name="const0", value=value),
             helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(ModelRejected, match="node 'const0' attribute value 'c' uses external"):
        load_model(_model(nodes))


def test_external_data_is_refused_in_a_sparse_initializer() -> None:
    values = _external(numpy_helper.from_array(np.ones(1, np.float32), "w"))
    indices = numpy_helper.from_array(np.array([0], np.int64), "w_idx")
    sparse = helper.make_sparse_tensor(values, indices, [3])
    data = _model([helper.make_node("Add", ["x", "w"], ["y"])], sparse=[sparse])
    with pytest.raises(ModelRejected, match="sparse initializer 'w' uses external data"):
        load_model(data)


def test_external_data_is_refused_in_a_subgraph() -> None:
    value = _external(numpy_helper.from_array(np.ones(3, np.float32), "c"))
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["z"], name="inner", value=value)], "then", [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])])
    clean = helper.make_graph(
        [helper.make_node("Constant", [], ["z"], value=numpy_helper.from_array(
            np.ones(3, np.float32), "ones"))], "else", [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])])
    cond = numpy_helper.from_array(np.array(True), "cond")
    nodes = [helper.make_node("If", ["cond"], ["w"], name="if0", then_branch=branch,
                              else_branch=clean),
             helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(ModelRejected, match="node 'if0' subgraph then_branch: node 'inner' "
                                            "attribute value 'c' uses external data"):
        load_model(_model(nodes, inits=[cond]))
