"""Proven training with the CLI only, over HTTP against a real node process: a user deploys a
trainable softmax model (the node builds its circuits), submits iris examples as training rows
(features and a class: the node makes the one-hot row), trains two steps and reads the
lineage; the step proofs are made by the node's prover. Then it runs the trained version on an
inference row (features, no label) with `flavum infer`, proven and verified, and looks at the
version's lineage and the training in the explorer (headless Chromium)."""

import json
import re
import time
from pathlib import Path

import pytest

from flavum.cli_training import read_examples
from flavum.ml.errors import InvalidInput
from flavum.ml.training import load_standardized

from .conftest import NodeProcess, make_config
from .test_cli_and_restart import flavum


def test_deploy_trainable_rows_train_lineage_through_the_cli(tmp_path):
    node = NodeProcess(make_config(tmp_path / "home", batch_interval_s=3600.0))
    try:
        client = node.start()
        home = node.config.home
        deployed = flavum("model", "deploy-trainable", "--family", "softmax", "--features", "4",
                          "--classes", "3", "--batch", "4", "--learning-rate", "0.5",
                          "--scale", "8", "--fee", "2dev", "--common", "--from", "alice",
                          "--json", home=home)
        assert deployed.returncode == 0, deployed.stderr
        model = json.loads(deployed.stdout)
        assert model["step"]["family"] == "softmax" and model["step"]["kind"] == "step"
        version0 = model["model_id"]
        shown = json.loads(flavum("model", "show", version0, "--json", home=home).stdout)
        assert shown["commitment"] == model["weight_commitment"]
        assert shown["model_id"] == model["step_model_id"]

        x_train, y_train, _, _ = load_standardized("iris", 4)
        examples = [{"features": x.tolist(), "label": int(y)}
                    for x, y in zip(x_train[:8], y_train[:8], strict=True)]
        (tmp_path / "rows.json").write_text(json.dumps(examples))
        submitted = flavum("data", "submit-rows", str(tmp_path / "rows.json"), "--model",
                           version0, "--from", "bob", "--json", home=home)
        assert submitted.returncode == 0, submitted.stderr
        data = [d["data_id"] for d in json.loads(submitted.stdout)]
        assert len(data) == 8

        trained = flavum("model", "train", version0, *(a for d in data for a in ("--data", d)),
                         "--steps", "2", "--max-fee", "2dev", "--from", "bob", "--json",
                         home=home)
        assert trained.returncode == 0, trained.stderr
        training = json.loads(trained.stdout)
        assert training["steps"] == 2 and training["params_out"] != model["weight_commitment"]
        chain = json.loads(flavum("model", "lineage", training["version_id"], "--json",
                                  home=home).stdout)
        assert [c["version"]["object_id"] for c in chain] == [training["version_id"], version0]
        assert chain[0]["training"]["params_out"] == training["params_out"]

        deadline = time.monotonic() + 300
        while client.trace(training["trace_id"])["proof_status"] not in ("proven", "failed"):
            assert time.monotonic() < deadline, "the step proofs were not made"
            time.sleep(0.5)
        assert client.trace(training["trace_id"])["proof_status"] == "proven"
        assert client.verify_trace(training["trace_id"])["verified"]

        # The trained version runs on an inference row (features, no label) with `infer`.
        (tmp_path / "x.json").write_text(json.dumps([{"features": x_train[0].tolist()}]))
        row = flavum("data", "submit-rows", str(tmp_path / "x.json"), "--model",
                     training["version_id"], "--from", "bob", "--json", home=home)
        assert row.returncode == 0, row.stderr
        (row_data,) = [d["data_id"] for d in json.loads(row.stdout)]
        inferred = flavum("infer", training["version_id"], row_data, "--max-fee", "2dev",
                          "--from", "bob", "--wait", "--json", home=home)
        assert inferred.returncode == 0, inferred.stderr
        receipt = json.loads(inferred.stdout)
        trace = client.trace(receipt["trace_id"])
        assert trace["proof_status"] == "proven", trace
        assert trace["weights"] == training["params_out"] and len(trace["outputs"]) == 3
        assert client.verify_trace(receipt["trace_id"])["verified"]
        check_explorer(node.config.api_url, version0, training)

        # Refused with one clear line: a class the model does not have, a seed for a linear
        # family, a row for a model that is not trainable.
        (tmp_path / "bad.json").write_text(json.dumps([{"features": [0, 0, 0, 0], "label": 3}]))
        bad = flavum("data", "submit-rows", str(tmp_path / "bad.json"), "--model", version0,
                     "--from", "bob", home=home)
        assert bad.returncode == 1 and "class indices in 0..2" in bad.stderr, bad.stderr
        seeded = flavum("model", "deploy-trainable", "--family", "softmax", "--features", "4",
                        "--classes", "3", "--batch", "4", "--learning-rate", "0.5", "--seed",
                        "1", "--from", "alice", home=home)
        assert seeded.returncode == 1 and "give no seed" in seeded.stderr, seeded.stderr
        result = flavum("data", "submit-rows", str(tmp_path / "rows.json"), "--model",
                        data[0], "--from", "bob", home=home)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    finally:
        node.stop()


def check_explorer(url: str, version0: str, training: dict) -> None:
    """The explorer, in headless Chromium: the trained version's page lists its lineage back to
    the first version, and the training's page its steps, new weights and proven steps."""
    from playwright.sync_api import sync_playwright

    from tests.api.test_explorer import CHROMIUM, CHROMIUM_FLAGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{url}/#/model/{training['version_id']}")
        page.wait_for_selector("#versions tbody tr")
        rows = page.locator("#versions tbody tr")
        assert rows.count() == 2
        assert "trained 2 steps by" in rows.nth(0).inner_text()
        assert "deployed" in rows.nth(1).inner_text()
        assert page.locator(f"#versions a[href='#/model/{version0}']").count() >= 1
        page.click(f"#versions a[href='#/trace/{training['trace_id']}']")
        page.wait_for_selector("#trace-fields")
        fields = page.inner_text("#trace-fields")
        assert "Training" in page.inner_text("h1") and "steps (one proof each)" in fields
        assert page.locator("h3", has_text="step 1").count() == 1  # both step proofs shown
        browser.close()


def test_the_documented_training_rows_read_as_documented(tmp_path):
    """docs/cli.md's training-rows example is two (features, label) examples; a file without
    labels is refused with the layout named."""
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    (block,) = re.findall(r"^```json training-rows\n(.*?)^```", docs, re.S | re.M)
    (tmp_path / "rows.json").write_text(block)
    assert read_examples(tmp_path / "rows.json") == [([-0.9, 1.0, -1.3, -1.3], 0.0),
                                                     ([1.2, 0.3, 1.0, 1.4], 2.0)]
    (tmp_path / "bad.json").write_text("[[5.1, 3.4, 1.5, 0.2]]")
    with pytest.raises(InvalidInput, match='each example is {"features"'):
        read_examples(tmp_path / "bad.json")
