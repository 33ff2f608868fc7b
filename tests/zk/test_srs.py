"""SRS store: local generation cached per logrows, user files checked before use."""

from __future__ import annotations

from pathlib import Path

import pytest

from flavum.zk import srs as srs_module
from flavum.zk.errors import SrsError
from flavum.zk.srs import SrsStore, compute_srs_size, read_srs_logrows


def test_generates_once_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SrsStore(tmp_path / "srs")
    stages: list[tuple[str, float | None]] = []
    path = store.path_for(4, lambda stage, f: stages.append((stage, f)))
    assert path.stat().st_size == compute_srs_size(4)
    assert read_srs_logrows(path) == 4
    assert stages == [("srs", None), ("srs", 1.0)]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left

    import ezkl

    def refuse(*args: object) -> None:
        raise AssertionError("the cached SRS must be reused")

    monkeypatch.setattr(ezkl, "gen_srs", refuse)
    assert store.path_for(4) == path


def test_crash_during_generation_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ezkl

    def half_write(path: str, logrows: int) -> None:
        Path(path).write_bytes(b"\x04\x00\x00\x00partial")
        raise RuntimeError("killed")

    monkeypatch.setattr(ezkl, "gen_srs", half_write)
    store = SrsStore(tmp_path)
    with pytest.raises(SrsError, match="could not generate"):
        store.path_for(5)
    assert list(tmp_path.iterdir()) == []


def test_damaged_cache_entry_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kzg5.srs").write_bytes(b"\x05\x00\x00\x00" + b"\x00" * 10)
    with pytest.raises(SrsError, match="bytes"):
        SrsStore(tmp_path).path_for(5)


def test_user_file_checked_for_size(tmp_path: Path) -> None:
    generated = SrsStore(tmp_path / "gen").path_for(5)
    store = SrsStore.from_file(generated)
    assert not store.is_local_setup
    assert store.path_for(5) == generated
    assert store.path_for(3) == generated  # a larger SRS serves smaller circuits
    with pytest.raises(SrsError, match="needs 6"):
        store.path_for(6)


def test_user_file_missing_or_garbage(tmp_path: Path) -> None:
    with pytest.raises(SrsError, match="does not exist"):
        SrsStore.from_file(tmp_path / "nope.srs")
    garbage = tmp_path / "garbage.srs"
    garbage.write_bytes(b"\xff" * 100)
    with pytest.raises(SrsError, match="not a KZG SRS"):
        SrsStore.from_file(garbage)
    short = tmp_path / "short.srs"
    short.write_bytes(b"\x01")
    with pytest.raises(SrsError, match="truncated"):
        SrsStore.from_file(short)


def test_logrows_bounds(tmp_path: Path) -> None:
    with pytest.raises(SrsError):
        SrsStore(tmp_path).path_for(srs_module.MAX_LOGROWS + 1)
