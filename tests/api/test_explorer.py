"""The explorer page in headless Chromium: it lists what the node holds and verifies a proof."""

import shutil
import threading
import time

import pytest
import uvicorn

from flavum.api.app import create_app
from flavum.core.transactions import Infer
from flavum.core.types import Access, Amount
from flavum.ml import examples
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import BOB, BOB_KEY, free_port, make_config
from tests.node.test_inference import deploy, send, submit_data, wait_proven

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]


@pytest.fixture
def served_node(tmp_path):
    config = make_config(tmp_path / "home", prover="inline")
    node = Node.open(config, pool=InlineProverPool())
    example = examples.train_sklearn_logreg("iris")
    _, model_id = deploy(node, example, fee=0, access=Access.COMMON)
    data_id = submit_data(node, model_id, example.test_inputs[0], access=Access.COMMON)
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    wait_proven(node, receipt.tx_hash)
    node.sequencer.seal_batch()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", model_id, receipt.tx_hash
    server.should_exit = True
    thread.join()
    node.close()


def test_explorer_lists_and_verifies(served_node):
    from playwright.sync_api import sync_playwright

    url, model_id, trace_hash = served_node
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#traces button")
        assert "1 batches" in page.inner_text("#summary")
        assert model_id.hex()[:8] in page.inner_html("#models")
        assert "100%" in page.inner_text("#models")
        data_row = page.inner_text("#data tbody")
        assert "COMMON" in data_row and "private" not in data_row
        traces = page.inner_text("#traces")
        assert "proven" in traces and "class " in traces and "logits" in traces
        assert "proven (fixed-point, scale 2^" in page.inner_html("#traces")
        page.click(f"button[data-trace='0x{trace_hash.hex()}']")
        page.wait_for_selector("#traces .result.status-proven")
        assert "verified" in page.inner_text("#traces .result")
        browser.close()
