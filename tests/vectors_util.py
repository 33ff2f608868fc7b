"""Shared test vectors: compare freshly generated data with the committed JSON file.

Vectors under tests/vectors/ are data produced by the core's own tests and consumed by the
Python verifier and the Solidity tests. A test builds the data deterministically and calls
`check_vectors`: it fails when the committed file differs, unless the environment variable
FLAVUM_REGEN_VECTORS=1 is set, in which case the file is (re)written.
"""

import json
import os
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).parent / "vectors"
REGEN_ENV = "FLAVUM_REGEN_VECTORS"


def _render(data: dict[str, Any]) -> str:
    """The canonical text of a vector file: stable key order, two-space indent, final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def check_vectors(relative_path: str, data: dict[str, Any]) -> None:
    """Fail unless tests/vectors/<relative_path> holds `data`; regenerate it on request."""
    path = VECTORS_DIR / relative_path
    text = _render(data)
    if os.environ.get(REGEN_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return
    if not path.exists():
        raise AssertionError(
            f"missing vector file tests/vectors/{relative_path}; generate it with {REGEN_ENV}=1"
        )
    # Compare parsed JSON: formatting differences alone are not a change of the vectors.
    committed = json.loads(path.read_text())
    if committed != json.loads(text):
        raise AssertionError(
            f"tests/vectors/{relative_path} differs from the freshly generated vectors; "
            f"if the change is intended, regenerate with {REGEN_ENV}=1 and review the diff"
        )
