"""Trace entries listed by model, object and account, page by page, over HTTP from a real
node process (`flavum node run`), with the CLI beside it; and a store made before the listing
columns existed, migrated on open."""

import json
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from flavum.core.transactions import DeployModel, Infer, SubmitData
from flavum.core.types import Access, Amount, Hash32, ObjectId
from flavum.ml import examples
from flavum.node.store import Store
from tests.node.conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    NodeProcess,
    make_config,
    share_artifacts,
)

ZERO = Hash32(b"\x00" * 32)
PAGED = ("/v1/models/{}/traces", "/v1/objects/{}/traces", "/v1/accounts/{}/traces")


def _id(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.removeprefix("0x"))


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_srs, shared_circuits):
    """A node process with two models (one circuit deployed twice), a data point of Alice's and
    one of Bob's, and six inferences: Bob runs model A on both, Alice runs model B on hers,
    then Bob model A, model B, model A again."""
    config = make_config(tmp_path_factory.mktemp("listing") / "home", batch_interval_s=3600.0)
    share_artifacts(config.home, shared_srs, shared_circuits)
    process = NodeProcess(config)
    client = process.start()
    try:
        example = examples.train_sklearn_logreg("iris")
        job = client.compile_model(example.onnx_bytes, example.samples.tolist())
        while not job["done"]:
            time.sleep(0.2)
            job = client.compile_status(job["job_id"])
        record = job["record"]
        deploy = DeployModel(Hash32(_id(record["model_hash"])), Hash32(_id(record["vk_hash"])),
                             Hash32(_id(job["metadata_hash"])), Access.COMMON, ZERO, Amount(0))
        models = [client.send(ALICE_KEY, ALICE, deploy)["object_id"] for _ in range(2)]
        data = []
        for key, sender in ((ALICE_KEY, ALICE), (BOB_KEY, BOB)):
            values = example.test_inputs[len(data)].tolist()
            commitment = client.commit_data(models[0], values)["commitment"]
            body = SubmitData(Hash32(_id(commitment)), ZERO, Access.COMMON)
            data.append(client.send(key, sender, body)["object_id"])
        runs = [(BOB_KEY, BOB, 0, 0), (BOB_KEY, BOB, 0, 1), (ALICE_KEY, ALICE, 1, 0),
                (BOB_KEY, BOB, 0, 1), (BOB_KEY, BOB, 1, 1), (BOB_KEY, BOB, 0, 0)]
        traces = [client.send(key, sender, Infer(ObjectId(_id(models[m])),
                                                 ObjectId(_id(data[d])), Amount(0)))
                  for key, sender, m, d in runs]
        yield process, models, data, runs, traces
    finally:
        process.stop()


def _listing(url: str, path: str, limit: int) -> list[str]:
    """Every page of `path` followed by its cursor: the traces' hashes, newest first."""
    hashes, before = [], None
    while True:
        params = {"limit": limit} | ({"before": before} if before else {})
        page = httpx.get(url + path, params=params).raise_for_status().json()
        assert len(page["traces"]) <= limit
        hashes += [t["tx_hash"] for t in page["traces"]]
        before = page["next_before"]
        if before is None:
            return hashes
        assert page["traces"][-1]["seq"] == before


def test_traces_are_listed_by_model_object_and_account_page_by_page(served):
    process, models, data, runs, traces = served
    url = process.config.api_url
    hashes = [t["tx_hash"] for t in traces]
    newest_first = list(reversed(range(len(runs))))
    of_model_a = [hashes[i] for i in newest_first if runs[i][2] == 0]
    of_bobs_data = [hashes[i] for i in newest_first if runs[i][3] == 1]
    of_bob = [hashes[i] for i in newest_first if runs[i][1] == BOB]
    for limit in (1, 2, 50):  # page sizes that split the lists, and one that holds them
        assert _listing(url, f"/v1/models/{models[0]}/traces", limit) == of_model_a
        assert _listing(url, f"/v1/objects/{models[0]}/traces", limit) == of_model_a
        assert _listing(url, f"/v1/objects/{data[1]}/traces", limit) == of_bobs_data
        assert _listing(url, f"/v1/accounts/0x{BOB.hex()}/traces", limit) == of_bob
    # A result object lists the inference that made it; an entry reads as /v1/traces/{tx} does.
    page = httpx.get(f"{url}/v1/objects/{traces[2]['object_id']}/traces").json()
    assert page == {"traces": [httpx.get(f"{url}/v1/traces/{hashes[2]}").json()],
                    "next_before": None}
    entry = page["traces"][0]
    assert (entry["model_id"], entry["data_id"], entry["result"]["proven_output"]) == (
        models[1], data[0], "logits")
    nothing = httpx.get(f"{url}/v1/models/0x{'ab' * 32}/traces").json()
    assert nothing == {"traces": [], "next_before": None}
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert {"/v1/models/{object_id}/traces", "/v1/objects/{object_id}/traces",
            "/v1/accounts/{address}/traces"} <= set(paths)


@pytest.mark.parametrize("query, code, status", [
    ("?limit=0", "bad_request", 400), ("?limit=501", "bad_request", 400),
    ("?limit=x", "bad_request", 400), ("?before=0", "bad_request", 400),
    ("?before=-5", "bad_request", 400), ("?before=1e3", "bad_request", 400),
    ("?before=" + "9" * 30, "bad_request", 400),
])
def test_bad_page_parameters_are_a_typed_400(served, query, code, status):
    process, models, _, _, _ = served
    for path in PAGED:
        key = f"0x{BOB.hex()}" if "accounts" in path else models[0]
        r = httpx.get(process.config.api_url + path.format(key) + query)
        assert (r.status_code, r.json()["error"]) == (status, code), (path, r.text)


@pytest.mark.parametrize("path", ["/v1/models/0x12/traces", "/v1/objects/zz/traces",
                                  "/v1/accounts/0x1234/traces"])
def test_a_malformed_key_is_refused_by_name(served, path):
    process = served[0]
    r = httpx.get(process.config.api_url + path)
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    assert r.json()["message"].startswith(("object_id", "address"))


def test_cli_lists_a_models_and_an_accounts_inferences(served):
    process, models, _, runs, traces = served
    home = str(process.config.home)

    def flavum(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flavum", *args, "--home", home],
                              capture_output=True, text=True, timeout=60)

    first = flavum("trace", "list", "--model", models[0], "--limit", "2", "--json")
    assert first.returncode == 0, first.stderr
    page = json.loads(first.stdout)
    assert [t["tx_hash"] for t in page["traces"]] == [traces[5]["tx_hash"],
                                                       traces[3]["tx_hash"]]
    text = flavum("trace", "list", "--model", models[0], "--limit", "2", "--before",
                  str(page["next_before"])).stdout
    assert traces[1]["tx_hash"] in text and traces[0]["tx_hash"] in text
    assert "class " in text and "proof " in text
    alice = flavum("trace", "list", "--account", "alice").stdout.splitlines()
    assert len(alice) == 1 and alice[0].startswith(traces[2]["tx_hash"])
    shown = flavum("model", "show", models[1]).stdout
    assert "inferences latest first" in shown and traces[4]["tx_hash"] in shown
    both = flavum("trace", "list", "--model", models[0], "--account", "bob")
    assert (both.returncode, both.stderr) == (1, "error: give one of --model, --data or "
                                                 "--account\n")


def test_a_store_made_before_the_listing_columns_is_migrated(served, tmp_path):
    process, models, data, _, traces = served
    copy = tmp_path / "old.db"
    source = sqlite3.connect(process.config.db_path)
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    # The store as an older node left it: no key columns, no indexes on them.
    old = sqlite3.connect(copy)
    for index in ("traces_model", "traces_data", "traces_result", "traces_sender"):
        old.execute(f"DROP INDEX {index}")
    for column in ("model_id", "data_id", "result_id", "sender"):
        old.execute(f"ALTER TABLE traces DROP COLUMN {column}")
    old.commit()
    old.close()
    store = Store(copy)
    try:
        def listed(key: str, value: str) -> list[str]:
            return ["0x" + r.entry.tx_hash.hex()
                    for r in store.traces_by(key, _id(value), None, 50)]

        assert listed("model_id", models[1]) == [traces[4]["tx_hash"], traces[2]["tx_hash"]]
        assert listed("data_id", data[0]) == [traces[i]["tx_hash"] for i in (5, 2, 0)]
        assert listed("result_id", traces[3]["object_id"]) == [traces[3]["tx_hash"]]
        assert listed("sender", "0x" + ALICE.hex()) == [traces[2]["tx_hash"]]
    finally:
        store.close()
