"""The HTTP API: every endpoint, and every bad input a typed 4xx (never a 500)."""

import pytest
from fastapi.testclient import TestClient

from flavum.api.app import create_app
from flavum.api.guard import load_token
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import Transaction, Transfer, encode_transaction, sign_transaction
from flavum.core.types import Amount, Nonce
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import ALICE, ALICE_KEY, BOB, make_config


@pytest.fixture
def api(tmp_path):
    config = make_config(tmp_path / "home")
    node = Node.open(config, pool=InlineProverPool())
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        yield config, client
    node.close()


def raw_transfer(config, nonce, amount=1):
    tx = Transaction(config.domain.chain_id, config.domain.rollup_id, ALICE, Nonce(nonce),
                     Transfer(BOB, DEV_ASSET, Amount(amount)))
    return "0x" + encode_transaction(sign_transaction(tx, ALICE_KEY)).hex()


def test_submit_read_seal(api):
    config, client = api
    r = client.post("/v1/transactions", json={"raw": raw_transfer(config, 0, 5)})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    tx_hash = r.json()["tx_hash"]
    assert client.get(f"/v1/transactions/{tx_hash}").json()["seq"] == 1
    account = client.get(f"/v1/accounts/0x{BOB.hex()}").json()
    assert account["balances"]["0x" + DEV_ASSET.hex()] == str(10**21 + 5)
    assert client.get(f"/v1/accounts/0x{ALICE.hex()}").json()["nonce"] == 1
    assert client.post("/v1/batches/seal").status_code == 401  # an operator endpoint
    token = load_token(config.home)
    sealed = client.post("/v1/batches/seal", headers={"authorization": f"Bearer {token}"}).json()
    assert sealed["sealed"] and sealed["batch"]["number"] == 0
    assert client.get("/v1/batches").json()[0]["tx_count"] == 1
    batch = client.get("/v1/batches/0").json()
    assert batch["tx_hashes"] == [tx_hash]
    status = client.get("/v1/status").json()
    assert status["batches"] == 1 and status["state_root"] == batch["state_root"]
    assert "/v1/transactions" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body,status,code", [
    ({"raw": "0xzz"}, 422, "malformed_transaction"),
    ({"raw": "0x00"}, 422, "malformed_transaction"),
    ({}, 400, "bad_request"),
    ({"raw": 5}, 400, "bad_request"),
])
def test_bad_submissions(api, body, status, code):
    _, client = api
    r = client.post("/v1/transactions", json=body)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_refused_transactions_keep_their_error_code(api):
    config, client = api
    r = client.post("/v1/transactions", json={"raw": raw_transfer(config, 3)})
    assert (r.status_code, r.json()["error"]) == (422, "nonce_mismatch")
    raw = raw_transfer(config, 0)
    client.post("/v1/transactions", json={"raw": raw})
    r = client.post("/v1/transactions", json={"raw": raw})
    assert (r.status_code, r.json()["error"]) == (409, "duplicate_transaction")
    r = client.post("/v1/transactions", content="not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("path,status,code", [
    ("/v1/accounts/0x1234", 422, "invalid_input"),
    ("/v1/accounts/nothex", 422, "invalid_input"),
    ("/v1/objects/0x" + "ab" * 32, 404, "not_found"),
    ("/v1/objects/0x12", 422, "invalid_input"),
    ("/v1/transactions/0x" + "00" * 32, 404, "not_found"),
    ("/v1/batches/7", 404, "not_found"),
    ("/v1/batches/x", 400, "bad_request"),
])
def test_bad_reads(api, path, status, code):
    _, client = api
    r = client.get(path)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_lists_start_empty(api):
    _, client = api
    for path in ("/v1/models", "/v1/data", "/v1/traces", "/v1/withdrawals"):
        r = client.get(path)
        assert (r.status_code, r.json()) == (200, []), path
    assert "Flavum explorer" in client.get("/").text


TRAINABLE = {"family": "softmax", "features": 4, "classes": 3, "batch": 4,
             "learning_rate": 0.5}


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "/v1/models/compile", {"onnx": "%%%", "calibration": [[1.0]]}, 422,
     "model_rejected"),
    ("POST", "/v1/models/compile", {"onnx": "AAAA", "calibration": [[1.0]],
                                    "proven_output": "argmax"}, 422, "invalid_input"),
    # Rows are hashed, KZG points or public (common data): private rows bind no DATA object.
    ("POST", "/v1/models/compile", {"onnx": "AAAA", "calibration": [[1.0]],
                                    "input_visibility": "private"}, 422, "invalid_input"),
    ("POST", "/v1/models/compile", {"calibration": [[1.0]]}, 400, "bad_request"),
    ("GET", "/v1/models/compile/nope", None, 404, "not_found"),
    ("GET", "/v1/models/0x" + "ab" * 32, None, 404, "not_found"),
    ("POST", "/v1/data/commit", {"model_id": "0x" + "ab" * 32, "values": [1.0]}, 404,
     "not_found"),
    ("POST", "/v1/data/commit", {"model_id": "0x12", "values": [1.0]}, 422, "invalid_input"),
    ("POST", "/v1/data/commit", {"model_id": "0x" + "ab" * 32, "values": "x"}, 400,
     "bad_request"),
    # A trainable architecture: refused before any build starts.
    ("POST", "/v1/models/trainable", {**TRAINABLE, "family": "tree"}, 422, "invalid_input"),
    ("POST", "/v1/models/trainable", {**TRAINABLE, "classes": None}, 422, "invalid_input"),
    ("POST", "/v1/models/trainable", {**TRAINABLE, "batch": 65}, 422, "invalid_input"),
    ("POST", "/v1/models/trainable", {**TRAINABLE, "seed": 1}, 422, "invalid_input"),
    ("POST", "/v1/models/trainable", {"family": "softmax"}, 400, "bad_request"),
    ("GET", "/v1/models/trainable/nope", None, 404, "not_found"),
    ("POST", "/v1/data/commit-row", {"model_id": "0x" + "ab" * 32, "features": [1.0],
                                     "label": 0}, 404, "not_found"),
    ("GET", "/v1/traces/0x" + "ab" * 32, None, 404, "not_found"),
    ("GET", "/v1/traces/0x" + "ab" * 32 + "/proof", None, 404, "not_found"),
    ("POST", "/v1/traces/0x" + "ab" * 32 + "/verify", None, 404, "not_found"),
    ("GET", "/v1/withdrawals/0x" + "ab" * 32 + "/proof", None, 404, "not_found"),
    ("GET", "/v1/withdrawals/0xzz/proof", None, 422, "invalid_input"),
])
def test_bad_model_data_trace_requests(api, method, path, body, status, code):
    _, client = api
    r = client.request(method, path, json=body)
    assert (r.status_code, r.json()["error"]) == (status, code), r.json()


def test_a_failed_compile_job_reports_its_typed_error(api):
    import base64
    import time

    _, client = api
    job = client.post("/v1/models/compile", json={
        "onnx": base64.b64encode(b"not onnx").decode(), "calibration": [[1.0, 2.0]]}).json()
    while not job["done"]:
        time.sleep(0.05)
        job = client.get(f"/v1/models/compile/{job['job_id']}").json()
    assert job["stage"] == "failed" and job["error"]["error"] == "model_rejected"


def test_ledgers_and_status_list_no_ledger_when_none_is_configured(api):
    _, client = api
    assert client.get("/v1/ledgers").json() == []
    assert client.get("/v1/status").json()["ledgers"] == []
