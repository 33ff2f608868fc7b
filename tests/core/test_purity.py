"""Style rule 1: the core is deterministic. It imports only pure modules and holds no floats."""

import ast
from pathlib import Path

import flavum.core

CORE = Path(flavum.core.__file__).parent
ALLOWED = {
    "__future__", "dataclasses", "enum", "functools", "typing", "collections", "collections.abc",
    "sha3", "eth_keys.datatypes", "eth_keys.constants",
}


def imports_of(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_only_pure_modules():
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for name in imports_of(tree):
            assert name in ALLOWED or name.startswith("flavum.core"), f"{path.name} imports {name}"


def test_core_has_no_float_literals_or_float_calls():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), path.name
            is_float_call = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "float"
            assert not is_float_call, path.name
