"""The layers keep to their arrows, checked on the source by AST (as tests/core/test_purity.py
does for the core):

- outside flavum/l1/ no code tests a ledger's type (isinstance/issubclass of a ledger class) or
  probes a ledger for an attribute (hasattr/getattr on a ledger, or of a name only the ledger
  adapters define): what a ledger does is in its capability flags and its interface;
- outside flavum/l1/ no code reaches into the EVM ledger's web3 client (`.w3`);
- node/ and the verifier use flavum.l1 only through its interface, its errors, its factory and
  its verifier builder (a model's binding names its verifiers' code);
- da/ imports nothing of flavum.l1, node/ nothing of flavum.api;
- ml/, zk/, l1/ and da/ keep to docs/architecture.md's table (`NEVER`);
- api/ reads the node through its query module, never its store (`.store`).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import flavum

PACKAGE = Path(flavum.__file__).parent
L1 = PACKAGE / "l1"
LEDGER_BASE = "Ledger"
L1_FOR_CONSUMERS = {"flavum.l1.interface", "flavum.l1.errors", "flavum.l1.factory",
                    "flavum.l1.verifiers"}


def modules(*parts: str) -> Iterator[tuple[Path, ast.Module]]:
    """(path, tree) of the package's modules under `parts` (a folder or a module)."""
    target = PACKAGE.joinpath(*parts)
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    for path in paths:
        yield path, ast.parse(path.read_text(), str(path))


def outside_l1() -> Iterator[tuple[Path, ast.Module]]:
    for path, tree in modules():
        if L1 not in path.parents:
            yield path, tree


def imported(tree: ast.Module) -> set[str]:
    """Every module a tree imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def class_attributes(cls: ast.ClassDef) -> set[str]:
    """Methods, class-level fields and `self.x = ...` assignments of a class."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(cls):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names.update(t.attr for t in targets if isinstance(t, ast.Attribute)
                     and isinstance(t.value, ast.Name) and t.value.id == "self")
    return names


def classes(trees: Iterator[tuple[Path, ast.Module]]) -> Iterator[ast.ClassDef]:
    for _, tree in trees:
        yield from (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef))


def ledger_classes() -> dict[str, ast.ClassDef]:
    """The `Ledger` interface and every class of flavum/l1/ built on it."""
    found = {cls.name: cls for cls in classes(modules("l1")) if cls.name == LEDGER_BASE
             or any(isinstance(b, ast.Name) and b.id == LEDGER_BASE for b in cls.bases)}
    assert {"Ledger", "EvmLedger", "LitecoinLedger", "FakeLedger"} <= set(found)
    return found


def adapter_only_attributes() -> set[str]:
    """Attributes the ledger adapters define beyond the interface, and no class outside l1/
    (so a probe for one of them can only be a probe of a ledger)."""
    ledgers = ledger_classes()
    adapters = set().union(*(class_attributes(c) for n, c in ledgers.items() if n != LEDGER_BASE))
    elsewhere = set().union(*(class_attributes(c) for c in classes(outside_l1())))
    return {a for a in adapters - class_attributes(ledgers[LEDGER_BASE]) - elsewhere
            if not a.startswith("__")}


def names_in(node: ast.AST) -> set[str]:
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, (ast.Name, ast.Attribute))}


def last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def calls_to(tree: ast.Module, *functions: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and last_name(node.func) in functions and node.args:
            yield node


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"


def test_no_type_test_of_a_ledger_outside_l1():
    ledgers = set(ledger_classes())
    found = [where(path, call) for path, tree in outside_l1()
             for call in calls_to(tree, "isinstance", "issubclass")
             if len(call.args) == 2 and names_in(call.args[1]) & ledgers]
    assert not found, f"type tests of ledgers (use the capability flags): {found}"


def test_no_attribute_probe_of_a_ledger_outside_l1():
    specific = adapter_only_attributes()
    found = []
    for path, tree in outside_l1():
        for call in calls_to(tree, "hasattr", "getattr"):
            name = call.args[1] if len(call.args) > 1 else None
            probed = name.value if isinstance(name, ast.Constant) else None
            if last_name(call.args[0]).lower().endswith("ledger") or probed in specific:
                found.append(f"{where(path, call)} ({probed})")
    assert not found, f"attribute probes of ledgers (use the Ledger interface): {found}"


def test_no_web3_client_outside_l1():
    found = [where(path, node) for path, tree in outside_l1() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "w3"]
    assert not found, f".w3 outside flavum/l1/: {found}"


def test_node_and_verifier_use_only_the_ledger_interface_errors_and_factory():
    found = [f"{path.name} imports {name}"
             for path, tree in [*modules("node"), *modules("verifier.py"),
                                *modules("ledger_deposits.py"), *modules("model_check.py"),
                                *modules("challenger.py")]
             for name in imported(tree)
             if name.startswith("flavum.l1") and name not in L1_FOR_CONSUMERS]
    assert not found, found


def test_da_does_not_import_l1():
    found = [f"{path.name} imports {name}" for path, tree in modules("da")
             for name in imported(tree) if name == "flavum.l1" or name.startswith("flavum.l1.")]
    assert not found, found


# docs/architecture.md: what each lower layer never imports.
NEVER = {
    "ml": ("zk", "l1", "da", "node", "api"),
    "zk": ("l1", "da", "node", "api"),
    "l1": ("da", "zk", "ml", "node", "api"),
    "da": ("l1", "node", "api"),
    "challenger.py": ("node", "api", "zk"),
    "escape.py": ("node", "api", "zk"),
}


def test_lower_layers_never_import_the_layers_above():
    found = [f"{path.relative_to(PACKAGE)} imports {name}"
             for layer, never in NEVER.items() for path, tree in modules(layer)
             for name in imported(tree)
             if any(name == f"flavum.{n}" or name.startswith(f"flavum.{n}.") for n in never)]
    assert not found, found


def test_node_does_not_import_the_api():
    found = [f"{path.name} imports {name}" for path, tree in modules("node")
             for name in imported(tree) if name == "flavum.api" or name.startswith("flavum.api.")]
    assert not found, found


def test_api_does_not_reach_into_the_store():
    found = [where(path, node) for path, tree in modules("api") for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "store"]
    assert not found, f"the API reads the node's store directly: {found}"
