"""Structured reference strings (SRS) for KZG commitments.

A circuit of `2**logrows` rows needs an SRS of at least that size. `SrsStore` keeps one SRS file
per logrows in a directory. By default it makes them locally with `ezkl.gen_srs`: a single-party
setup whose secret existed on this machine, fine for development and never for value. A store
made with `SrsStore.from_file` serves one user-supplied file instead (e.g. the output of a public
ceremony) and refuses circuits larger than it. Nothing here downloads anything.

File layout (halo2 `ParamsKZG`, raw bytes): a little-endian u32 `k`, then 2**k G1 points in
monomial form and 2**k in Lagrange form (64 bytes each), then two G2 points (256 bytes in all).
That fixes the size of a file for its `k`, which is how a user file is checked before use.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

from flavum.zk.errors import SrsError

Progress = Callable[[str, float | None], None]

# halo2's writer: 4-byte k, 2 * 2**k G1 points of 64 bytes, 2 G2 points of 128 bytes.
_HEADER_BYTES = 4
_G1_BYTES = 64
_G2_TAIL_BYTES = 256
# Above this, gen_srs and the keys it serves do not fit on the machines Flavum targets.
MAX_LOGROWS = 26
MIN_LOGROWS = 1


def compute_srs_size(logrows: int) -> int:
    """The exact size in bytes of an SRS file for `2**logrows` rows."""
    return _HEADER_BYTES + 2 * (2**logrows) * _G1_BYTES + _G2_TAIL_BYTES


def read_srs_logrows(path: Path) -> int:
    """The `k` an SRS file claims in its header, checked against the file's size."""
    if not path.is_file():
        raise SrsError(f"SRS file {path} does not exist")
    with open(path, "rb") as f:
        header = f.read(_HEADER_BYTES)
    if len(header) < _HEADER_BYTES:
        raise SrsError(f"SRS file {path} is truncated (no header)")
    (logrows,) = struct.unpack("<I", header)
    if not MIN_LOGROWS <= logrows <= MAX_LOGROWS:
        raise SrsError(f"SRS file {path} claims logrows {logrows}, not a KZG SRS")
    expected = compute_srs_size(logrows)
    actual = path.stat().st_size
    if actual != expected:
        raise SrsError(
            f"SRS file {path} is {actual} bytes; an SRS of logrows {logrows} is {expected} bytes"
        )
    return logrows


def compute_file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks (an SRS can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class SrsStore:
    """One SRS per logrows under `directory`, made on first use (or one user-supplied file)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._user: tuple[Path, int] | None = None  # (file, its logrows) for from_file

    @classmethod
    def from_file(cls, path: Path | str) -> SrsStore:
        """A store that serves only the SRS in `path` (checked now) to circuits that fit it.

        halo2 downsizes a larger SRS to the circuit's size on load, so one ceremony file of
        logrows k serves every circuit of at most k logrows.
        """
        path = Path(path)
        logrows = read_srs_logrows(path)
        store = cls(path.parent)
        store._user = (path, logrows)
        return store

    @property
    def is_local_setup(self) -> bool:
        """True when the SRS is generated here (single-party, development only)."""
        return self._user is None

    def path_for(self, logrows: int, progress: Progress | None = None) -> Path:
        """The SRS file for a circuit of `logrows`, generated and cached on first use."""
        if not MIN_LOGROWS <= logrows <= MAX_LOGROWS:
            raise SrsError(f"logrows {logrows} is outside {MIN_LOGROWS}..{MAX_LOGROWS}")
        if self._user is not None:
            return self._check_user_file(*self._user, logrows)
        path = self.directory / f"kzg{logrows}.srs"
        if path.exists():
            read_srs_logrows(path)  # a damaged cache entry must not reach setup or prove
            return path
        if progress is not None:
            progress("srs", None)
        self._generate(path, logrows)
        if progress is not None:
            progress("srs", 1.0)
        return path

    @staticmethod
    def _check_user_file(path: Path, file_logrows: int, logrows: int) -> Path:
        if not path.is_file():
            raise SrsError(f"SRS file {path} no longer exists")
        if file_logrows < logrows:
            raise SrsError(
                f"SRS file {path} has logrows {file_logrows}; the circuit needs {logrows}"
            )
        return path

    def _generate(self, path: Path, logrows: int) -> None:
        import ezkl

        self.directory.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: a crash leaves a stray temp file, never a
        # half-written SRS under the real name. rename is atomic within one directory.
        fd, tmp_name = tempfile.mkstemp(prefix=f".kzg{logrows}.", suffix=".tmp", dir=self.directory)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            tmp.unlink()  # gen_srs creates the file itself
            try:
                ezkl.gen_srs(str(tmp), logrows)
            except Exception as exc:
                raise SrsError(f"could not generate an SRS of logrows {logrows}: {exc}") from exc
            read_srs_logrows(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
