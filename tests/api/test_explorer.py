"""The explorer in headless Chromium: every page, the links between them, search, live updates,
the verify button, and screenshots that show the pages render (kept for docs/tour.md when
FLAVUM_TOUR_DIR names a folder)."""

import os
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from flavum.api.app import create_app
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import Infer, Transfer
from flavum.core.types import Access, Amount
from flavum.ml import examples
from flavum.node.config import LedgerSpec
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    free_port,
    make_config,
    share_artifacts,
)
from tests.node.test_inference import deploy, send, submit_data, wait_proven

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]


@pytest.fixture
def served_node(tmp_path, shared_srs, shared_circuits):
    """A node with a model, a common data point and a proven inference, its batch posted to the
    embedded EVM (which registered the model's verifier and checked the proof), served."""
    config = make_config(tmp_path / "home", prover="inline", batch_interval_s=3600.0,
                         ledgers=(LedgerSpec(name="evm", kind="evm", confirmations=0),))
    share_artifacts(config.home, shared_srs, shared_circuits)
    (config.home / "keys" / "sequencer.key").write_text("0x" + (b"\x05" * 32).hex())
    node = Node.open(config, pool=InlineProverPool())
    example = examples.train_sklearn_logreg("iris")
    _, model_id = deploy(node, example, fee=0, access=Access.COMMON)
    data_id = submit_data(node, model_id, example.test_inputs[0], access=Access.COMMON)
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    wait_proven(node, receipt.tx_hash)
    batch = node.sequencer.seal_batch()
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is None, link.last_error
    assert link.ledger.batch_status(batch.header.number).accepted
    with serve(node) as url:
        yield node, url, model_id, data_id, receipt.tx_hash
    node.close()


@contextmanager
def serve(node: Node) -> Iterator[str]:
    """The node's API served over HTTP on a free port: its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def png_variety(png: bytes) -> int:
    """How many distinct byte values a PNG's image data holds: a blank page has a handful."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(png):
        length = int.from_bytes(png[position:position + 4], "big")
        kind = png[position + 4:position + 8]
        if kind == b"IDAT":
            idat += png[position + 8:position + 8 + length]
        position += 12 + length
    return len(set(zlib.decompress(idat)))


def test_explorer_pages_links_search_and_live_updates(served_node, tmp_path):
    from playwright.sync_api import sync_playwright

    node, url, model_id, data_id, trace_hash = served_node
    model, data, trace = f"0x{model_id.hex()}", f"0x{data_id.hex()}", f"0x{trace_hash.hex()}"
    shots = Path(os.environ.get("FLAVUM_TOUR_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        png = page.screenshot(full_page=True)
        assert png_variety(png) > 40, f"the {name} page renders blank"
        (shots / f"{name}.png").write_bytes(png)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        page.wait_for_selector("#traces a")
        assert "1 batches" in page.inner_text("#summary")
        assert "100%" in page.inner_text("#models")
        data_row = page.inner_text("#data tbody")
        assert "COMMON" in data_row and "private" not in data_row
        traces = page.inner_text("#traces")  # outputs read as numbers, named
        assert "class " in traces and "logits " in traces and "derived outside" in traces
        assert "proven (fixed-point, scale 2^" in traces
        assert page.locator("#batch-chart rect").count() == 1
        assert page.locator("#proof-chart rect").count() == 1
        assert "1 proofs" in page.text_content("#proof-chart")
        assert "evm: accepted" in page.inner_text("#batches")
        shoot(page, "home")

        # Live: a transaction sent now shows up without a reload.
        before = page.inner_text("#summary")
        send(node, ALICE_KEY, ALICE, Transfer(BOB, DEV_ASSET, Amount(10**18)))
        page.wait_for_function("t => !document.querySelector('#summary').innerText.includes(t)",
                               arg=before.split("transactions")[0].split()[-1] + " transactions")

        # Home -> model: its accuracy report and the verifier the EVM bound it to.
        page.click(f"#models a[href='#/model/{model}']")
        page.wait_for_selector("#verifiers")
        assert "top1 agreement" in page.inner_text("#accuracy")
        verifiers = page.inner_text("#verifiers tbody")
        assert "evm" in verifiers and "yes" in verifiers and "not registered" not in verifiers
        assert "deployed" in page.inner_text("#versions")
        shoot(page, "model")

        # Model -> trace: commitment, outputs read as numbers, public values, on-chain check.
        page.click(f"#traces a[href='#/trace/{trace}']")
        page.wait_for_selector("#instances")
        fields = page.inner_text("#trace-fields")
        assert "class " in fields and "evm: accepted in L1 tx" in fields
        assert page.locator("#instances tbody tr").count() >= 2
        instances = page.inner_text("#instances tbody")
        assert "the input commitment" in instances and "output 0" in instances
        page.click("#verify")
        page.wait_for_selector("#verdict.ok")
        assert "verified" in page.inner_text("#verdict")
        shoot(page, "trace")

        # Trace -> batch: roots, the post on the EVM, its transactions.
        page.click("#trace-fields a[href='#/batch/0']")
        page.wait_for_selector("#posts")
        posts = page.inner_text("#posts tbody")
        assert "accepted" in posts and "verified on chain" in posts
        assert page.locator("#txs tbody tr").count() == node.store.get_batch(0).tx_count
        shoot(page, "batch")

        # Trace -> data object; model -> owner's account with amounts in units.
        page.goto(f"{url}/#/trace/{trace}")
        page.click(f"#trace-fields a[href='#/object/{data}']")
        page.wait_for_selector("#object-fields")
        assert "DATA" in page.inner_text("#object-fields")
        assert page.locator(f"#traces a[href='#/trace/{trace}']").count() == 1
        page.goto(f"{url}/#/model/{model}")
        page.click(f"#model-fields a[href='#/account/0x{ALICE.hex()}']")
        page.wait_for_selector("#balances")
        assert " dev" in page.inner_text("#balances")
        assert page.locator(f"#owned-models a[href='#/model/{model}']").count() == 1
        shoot(page, "account")

        # Search: by trace hash, batch number, and something that is nothing.
        for query, expect in ((trace, "#trace-fields"), ("0", "#batch-fields"),
                              (model, "#model-fields")):
            page.fill("#search input", query)
            page.press("#search input", "Enter")
            page.wait_for_selector(expect)
        page.fill("#search input", "0x" + "ab" * 32)
        page.press("#search input", "Enter")
        page.wait_for_selector("text=Nothing found")
        browser.close()


def test_an_older_models_inferences_are_listed_page_by_page(tmp_path, shared_srs,
                                                           shared_circuits):
    """Model A runs once, then model B a hundred times: A's inference is no longer among the
    latest 100 traces the home page shows, yet A's page, its data's page and its caller's
    page list it (the node lists traces by key); B's page pages through all of its own.
    A was trained on the species' names: its inference shows the class by its name."""
    from playwright.sync_api import sync_playwright

    from tests.ml.test_labels import labelled, onnxruntime_labels

    config = make_config(tmp_path / "home", prover="inline", batch_interval_s=3600.0)
    share_artifacts(config.home, shared_srs, shared_circuits)
    node = Node.open(config, pool=InlineProverPool())
    named, _ = labelled("logreg")
    _, model_a = deploy(node, named, fee=0, access=Access.COMMON)
    data_a = submit_data(node, model_a, named.test_inputs[0], access=Access.COMMON)
    old = send(node, ALICE_KEY, ALICE, Infer(model_a, data_a, Amount(0))).tx_hash
    species = onnxruntime_labels(named.onnx_bytes, named.test_inputs[:1])[0]
    example = examples.train_sklearn_logreg("iris")
    _, model_b = deploy(node, example, fee=0, access=Access.COMMON)
    data_b = submit_data(node, model_b, example.test_inputs[1], access=Access.COMMON)
    for _ in range(100):
        send(node, BOB_KEY, BOB, Infer(model_b, data_b, Amount(0)))
    old_link = f"#traces a[href='#/trace/0x{old.hex()}']"
    try:
        with serve(node) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            page.wait_for_selector("#traces a")
            assert page.locator("#traces tbody tr").count() == 100
            assert page.locator(old_link).count() == 0  # past the latest 100
            for route in (f"model/0x{model_a.hex()}", f"object/0x{data_a.hex()}",
                          f"account/0x{ALICE.hex()}"):
                page.goto(f"{url}/#/{route}")
                page.wait_for_selector(old_link)
                assert page.locator("#traces tbody tr").count() == 1
                assert f"class {species} (index" in page.inner_text("#traces")
                assert "older" not in page.inner_text("#pager")
            page.goto(f"{url}/#/model/0x{model_b.hex()}")
            page.wait_for_selector("#pager a")
            seen = set()
            for _ in range(4):  # 100 inferences, 25 a page
                rows = page.locator("#traces tbody tr a[href^='#/trace/']")
                seen.update(rows.nth(i).get_attribute("href") for i in range(rows.count()))
                older = page.locator("#pager a", has_text="older")
                if older.count() == 0:
                    break
                first = rows.first.get_attribute("href")
                older.click()
                page.wait_for_function(
                    "first => document.querySelector('#traces tbody a[href^=\"#/trace/\"]')"
                    ".getAttribute('href') !== first", arg=first)
                assert "newest" in page.inner_text("#pager")
            assert len(seen) == 100 and f"#/trace/0x{old.hex()}" not in seen
            browser.close()
    finally:
        node.close()
