"""The API docs: Swagger UI and ReDoc render offline in headless Chromium from the node's own
assets, and `/openapi.json` documents typed responses."""

import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from flavum.api.app import create_app
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.api.test_explorer import CHROMIUM, CHROMIUM_FLAGS
from tests.node.conftest import free_port, make_config


@pytest.fixture
def node(tmp_path):
    node = Node.open(make_config(tmp_path / "home"), pool=InlineProverPool())
    yield node
    node.close()


@pytest.fixture
def served(node):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


def test_docs_render_offline_in_chromium(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        served_here: list[str] = []
        blocked: list[str] = []  # as if offline: nothing but the node answers

        def offline(route, request):  # type: ignore[no-untyped-def]
            if request.url.startswith(served):
                served_here.append(request.url)
                route.continue_()
            else:
                blocked.append(request.url)
                route.abort()

        page.route("**/*", offline)
        page.goto(f"{served}/docs")
        page.wait_for_selector(".opblock-summary-path[data-path='/v1/transactions']")
        operations = page.locator(".opblock").count()
        assert operations >= 20
        assert "Receipt" in page.inner_text(".models")  # the typed response models are listed
        page.goto(f"{served}/redoc")
        page.get_by_role("heading", name="Withdrawal Proof").wait_for()
        assert "/v1/withdrawals/{withdrawal_id}/proof" in page.inner_text("body")
        browser.close()
    assert f"{served}/static/docs/swagger-ui-bundle.js" in served_here
    assert f"{served}/static/docs/redoc.standalone.js" in served_here
    # only decoration is fetched from elsewhere (ReDoc's "by Redocly" logo), never code or data
    assert all(url.endswith((".svg", ".png")) for url in blocked), blocked


def test_docs_assets_are_the_nodes_own(node):
    with TestClient(create_app(node)) as client:
        page = client.get("/docs").text
        assert "cdn" not in page.lower() and "/static/docs/swagger-ui-bundle.js" in page
        assert "cdn" not in client.get("/redoc").text.lower()
        script = client.get("/static/docs/redoc.standalone.js")
        assert script.status_code == 200 and len(script.content) > 100_000


def test_openapi_documents_typed_responses(node):
    with TestClient(create_app(node)) as client:
        spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    receipt = spec["paths"]["/v1/transactions"]["post"]["responses"]["200"]
    assert receipt["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Receipt"}
    assert list(schemas["Receipt"]["properties"]) == [
        "tx_hash", "seq", "status", "object_id", "trace", "withdrawal", "result"]
    assert schemas["Receipt"]["properties"]["tx_hash"]["pattern"] == "^0x[0-9a-f]{64}$"
    assert schemas["Account"]["properties"]["balances"]["additionalProperties"]["type"] == "string"
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok != {} and "additionalProperties" not in ok, (method, path, ok)
            error = op["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}
