"""docs/api-reference.md is what the node's OpenAPI document says (it cannot drift)."""

import os
from pathlib import Path

from fastapi.testclient import TestClient

from flavum.api.app import create_app
from flavum.api.reference import render
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import make_config

PAGE = Path(__file__).parents[2] / "docs" / "api-reference.md"


def test_api_reference_is_current(tmp_path):
    node = Node.open(make_config(tmp_path / "home"), pool=InlineProverPool())
    try:
        with TestClient(create_app(node)) as client:
            page = render(client.get("/openapi.json").json())
    finally:
        node.close()
    if os.environ.get("UPDATE_API_REFERENCE"):
        PAGE.write_text(page)
    assert PAGE.read_text() == page, "docs/api-reference.md is stale: UPDATE_API_REFERENCE=1"
    assert "### `POST /v1/transactions`" in page and "returns: [Receipt](#receipt)" in page
