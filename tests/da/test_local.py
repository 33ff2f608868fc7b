"""The directory store: atomic writes, repair on put, a layout that survives reopening."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flavum.da import ContentMismatch, DataUnavailable, compute_cid, digest_from_cid
from flavum.da.local import LocalStore


def test_layout_and_reopen(tmp_path: Path) -> None:
    data = os.urandom(1000)
    cid = LocalStore(tmp_path).put(data)
    path = tmp_path / digest_from_cid(cid).hex()[:2] / cid
    assert path.read_bytes() == data
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # read-only: objects never change
    assert LocalStore(tmp_path).get(cid) == data
    # Nothing else is left behind (no temporary files).
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]


def test_failed_write_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(100_000)
    cid = compute_cid(data)

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(data)
    monkeypatch.undo()
    assert not store.has(cid)
    with pytest.raises(DataUnavailable):
        store.get(cid)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_stray_temporary_file_is_not_an_object(tmp_path: Path) -> None:
    """A crash between write and rename leaves a hidden temporary file: it is never read."""
    store = LocalStore(tmp_path)
    data = os.urandom(5000)
    cid = compute_cid(data)
    shard = tmp_path / digest_from_cid(cid).hex()[:2]
    shard.mkdir()
    (shard / f".{cid}.abc.tmp").write_bytes(data[:100])
    assert not store.has(cid)
    assert store.put(data) == cid
    assert store.get(cid) == data


def test_put_repairs_a_corrupted_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(5000)
    cid = store.put(data)
    path = store.path_for(cid)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    with pytest.raises(ContentMismatch):
        store.get(cid)
    assert store.put(data) == cid
    assert store.get(cid) == data
