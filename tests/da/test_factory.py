"""open_store: one configuration string to a DataStore; anything unclear is a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from flavum.core.errors import ConfigError
from flavum.da import ContentMismatch, DataUnavailable, StoreUnreachable, open_store
from flavum.da.ipfs import IpfsStore
from flavum.da.local import LocalStore
from flavum.da.memory import MemoryStore
from flavum.da.s3 import S3Store
from flavum.errors import error_for_code


def test_memory() -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    with pytest.raises(ConfigError):
        open_store("memory:somewhere")


def test_local_url_and_plain_path(tmp_path: Path) -> None:
    store = open_store(f"local://{tmp_path / 'a'}")
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "a"
    plain = open_store(str(tmp_path / "b"))
    assert isinstance(plain, LocalStore)
    assert plain.root == tmp_path / "b"
    with pytest.raises(ConfigError):
        open_store("local://relative/dir")
    with pytest.raises(ConfigError):
        open_store(f"local://{tmp_path}?fsync=0")


def test_s3_options() -> None:
    store = open_store(
        "s3://traces/batches?endpoint=http://127.0.0.1:9000&region=eu-west-1"
        "&access_key_id=AK&secret_access_key=SK"
    )
    assert isinstance(store, S3Store)
    assert store.bucket == "traces"
    assert store.prefix == "batches/"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert store.client.meta.region_name == "eu-west-1"
    assert open_store("s3://traces?region=us-east-1").prefix == ""  # type: ignore[attr-defined]
    for bad in ["s3://", "s3://b?endpont=http://x", "s3://b?region=a&region=b"]:
        with pytest.raises(ConfigError):
            open_store(bad)


def test_ipfs() -> None:
    store = open_store("ipfs+http://127.0.0.1:5001/?timeout=5")
    assert isinstance(store, IpfsStore)
    assert store.api_url == "http://127.0.0.1:5001"
    assert store.client.timeout.read == 5
    for bad in ["ipfs+http://", "ipfs+http://h:1?timeout=x", "ipfs+http://h:1?timeout=0",
                "ipfs+http://h:1?x=1"]:
        with pytest.raises(ConfigError):
            open_store(bad)


@pytest.mark.parametrize("url", ["", "   ", "ftp://x/y", "ipfs://bafy", "gs://bucket", "foo:bar"])
def test_unknown_or_empty_is_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_error_codes_are_registered() -> None:
    # The API and CLI turn `code` back into the class.
    assert error_for_code("data_unavailable") is DataUnavailable
    assert error_for_code("store_unreachable") is StoreUnreachable
    assert error_for_code("content_mismatch") is ContentMismatch
