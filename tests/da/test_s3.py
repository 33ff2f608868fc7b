"""The S3 store against moto_server: prefixes, a wrong bucket, an unreachable endpoint."""

from __future__ import annotations

import os

import pytest

from flavum.da import DataUnavailable, StoreUnreachable, compute_cid, open_store
from tests.da.conftest import MotoServer, free_port


def test_objects_live_under_the_prefix(moto_server: MotoServer) -> None:
    bucket = moto_server.new_bucket()
    store = open_store(f"s3://{bucket}/a/b?endpoint={moto_server.endpoint}&region=us-east-1"
                       "&access_key_id=testing&secret_access_key=testing")
    data = os.urandom(777)
    cid = store.put(data)
    listed = moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"a/b/{cid}"]
    other = open_store(f"s3://{bucket}/c?endpoint={moto_server.endpoint}&region=us-east-1"
                       "&access_key_id=testing&secret_access_key=testing")
    assert not other.has(cid)
    with pytest.raises(DataUnavailable):
        other.get(cid)


def test_credentials_from_the_environment(moto_server: MotoServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = moto_server.new_bucket()
    store = open_store(f"s3://{bucket}?endpoint={moto_server.endpoint}&region=us-east-1")
    assert store.get(store.put(b"batch")) == b"batch"


def test_missing_bucket_is_unreachable_not_missing_data(moto_server: MotoServer) -> None:
    store = open_store(f"s3://no-such-bucket?endpoint={moto_server.endpoint}&region=us-east-1"
                       "&access_key_id=testing&secret_access_key=testing")
    with pytest.raises(StoreUnreachable):
        store.put(b"x")
    with pytest.raises(StoreUnreachable):
        store.get(compute_cid(b"x"))


def test_unreachable_endpoint() -> None:
    store = open_store(f"s3://b?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1"
                       "&access_key_id=testing&secret_access_key=testing")
    with pytest.raises(StoreUnreachable):
        store.put(b"x")
    with pytest.raises(StoreUnreachable):
        store.get(compute_cid(b"x"))
    with pytest.raises(StoreUnreachable):
        store.has(compute_cid(b"x"))
