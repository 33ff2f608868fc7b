"""Content-addressed directory: the embedded default DataStore.

Layout: `<root>/<first two hex digits of the sha256>/<cid>`, one file per blob, its name the
CID itself (so `ls` shows what IPFS would call it). Writes are atomic: the bytes go to a hidden
temporary file in the same directory, are flushed to disk, then renamed over the final name, so
a reader (or a crash) never sees a half-written blob under a CID.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from flavum.da.errors import ContentMismatch, DataUnavailable, StoreUnreachable
from flavum.da.interface import DataStore, check_content, digest_from_cid


class LocalStore(DataStore):
    """Blobs as files under `root` (created when missing)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.name = f"local://{self.root}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnreachable(f"{self.name}: cannot create the directory: {exc}") from exc

    def path_for(self, cid: str) -> Path:
        """The file that holds `cid` (whether or not it exists). `cid` is validated, so it can
        never name a path outside the store."""
        shard = digest_from_cid(cid).hex()[:2]
        return self.root / shard / cid

    def _store(self, cid: str, data: bytes) -> None:
        path = self.path_for(cid)
        if path.exists():
            try:
                check_content(cid, path.read_bytes(), self.name)
                return  # already there and intact: nothing to do
            except ContentMismatch:
                pass  # a corrupted copy: write the right bytes over it
        path.parent.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{cid}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o444)  # content-addressed objects never change
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._sync_dir(path.parent)

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        # The rename is durable only once the directory entry itself is on disk.
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _load(self, cid: str) -> bytes:
        try:
            return self.path_for(cid).read_bytes()
        except FileNotFoundError:
            raise DataUnavailable(f"{self.name}: no object {cid}") from None

    def _contains(self, cid: str) -> bool:
        return self.path_for(cid).is_file()
