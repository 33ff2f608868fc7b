"""Proving layer: models compiled into ezkl circuits, canonical execution, proofs, prover pools.

Import the module you need (`flavum.zk.circuit`, `flavum.zk.proof`, a pool): the package itself
loads nothing, so a command that only needs this layer's errors does not load onnx or ezkl.
"""
