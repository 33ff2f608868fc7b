"""Circuits compiled with settings chosen in code, not calibrated: the same graph always gives
the same circuit and verifying key (training steps and the inference key of trainable models).

`build_fixed_circuit` writes canonical ezkl settings from run arguments, sizes the circuit
(logrows from its rows and its lookup table), compiles it and sets up its keys in a
content-addressed directory; `load_fixed_circuit` reads such a directory back (making new keys
if the SRS file changed).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavum.core.types import Hash32
from flavum.ml.errors import ModelRejected
from flavum.zk.circuit import (
    COMPILED_FILE,
    META_FILE,
    MODEL_FILE,
    SETTINGS_FILE,
    VK_FILE,
    _setup_keys,
    call_ezkl,
    canonicalize_settings,
    compute_vk_hash,
)
from flavum.zk.errors import CircuitTooLarge
from flavum.zk.srs import SrsStore, compute_file_sha256

FIXED_FORMAT = 1
MAX_LOGROWS = 18
# Rows halo2 keeps for blinding and ezkl for its own use, beyond the circuit's rows and table.
RESERVED_ROWS = 64

RunArgs = Callable[[int], dict[str, Any]]  # logrows -> ezkl run arguments


@dataclass(frozen=True)
class FixedCircuit:
    """A compiled circuit and its keys in `directory` (model.onnx, settings.json, ...)."""

    directory: Path
    logrows: int
    srs_path: Path
    srs_sha256: str
    vk_hash: Hash32  # keccak256 of the vk file
    meta: dict[str, Any]  # what the builder recorded (scale, shapes, ...)


def write_settings(model: Path, settings: Path, run_args: dict[str, Any]) -> dict[str, Any]:
    """ezkl gen_settings with these run arguments, made canonical: the settings."""
    import ezkl

    args = ezkl.PyRunArgs()
    for name, value in run_args.items():
        setattr(args, name, value)  # ezkl's stubs lack these attributes
    call_ezkl("gen_settings", ModelRejected, ezkl.gen_settings,
              str(model), str(settings), py_run_args=args)
    # ezkl's hash-set order of range checks would give one graph several keys.
    return canonicalize_settings(settings)


def compute_logrows(num_rows: int, table_rows: int = 0) -> int:
    """The logrows a circuit of `num_rows` rows and a lookup table of `table_rows` needs."""
    needed = max(num_rows, table_rows) + RESERVED_ROWS
    logrows = max(1, math.ceil(math.log2(needed)))
    if logrows > MAX_LOGROWS:
        raise CircuitTooLarge(f"the circuit needs logrows {logrows}, above {MAX_LOGROWS}")
    return logrows


def compute_fixed_key(tag: str, graph: bytes, run_args: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(b"flavum.fixed.v%d\x00%s\x00" % (FIXED_FORMAT, tag.encode()))
    digest.update(hashlib.sha256(graph).digest())
    digest.update(json.dumps(run_args, sort_keys=True).encode())
    return digest.hexdigest()


def hashed_input_run_args(scale: int, output_visibility: str, **extra: Any) -> RunArgs:
    """Run arguments of a circuit whose inputs are hashed (their Poseidon hashes public) and
    whose constants are fixed, inputs and constants at one scale."""

    def run_args(logrows: int) -> dict[str, Any]:
        return {"input_visibility": "hashed", "output_visibility": output_visibility,
                "param_visibility": "fixed", "input_scale": scale, "param_scale": scale,
                "scale_rebase_multiplier": 1, **extra, "logrows": logrows}

    return run_args


def build_fixed_circuit(
    tag: str,
    graph: bytes,
    run_args: RunArgs,
    table_rows: int,
    store: SrsStore,
    root: Path,
    meta: dict[str, Any],
    check: Callable[[dict[str, Any]], None] = lambda settings: None,
) -> FixedCircuit:
    """Compile `graph` with `run_args(logrows)`, or reuse an identical earlier build.

    `check` sees the final settings and raises ModelRejected when they do not suit the caller
    (e.g. an output at another scale than the inputs).
    """
    directory = root / compute_fixed_key(tag, graph, run_args(0))
    if not (directory / META_FILE).is_file():
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            _build_into(work, graph, run_args, table_rows, store, meta, check)
            try:
                os.rename(work, directory)
            except OSError:
                if not (directory / META_FILE).is_file():  # not a concurrent identical build
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return load_fixed_circuit(directory, store)


def _build_into(work: Path, graph: bytes, run_args: RunArgs, table_rows: int, store: SrsStore,
                meta: dict[str, Any], check: Callable[[dict[str, Any]], None]) -> None:
    import ezkl

    model, settings_path = work / MODEL_FILE, work / SETTINGS_FILE
    model.write_bytes(graph)
    settings = write_settings(model, settings_path, run_args(MAX_LOGROWS))
    logrows = compute_logrows(int(settings["num_rows"]), table_rows)
    settings = write_settings(model, settings_path, run_args(logrows))
    check(settings)
    call_ezkl("compile_circuit", ModelRejected, ezkl.compile_circuit,
              str(model), str(work / COMPILED_FILE), str(settings_path))
    srs_path = store.path_for(logrows)
    _setup_keys(work, srs_path, None)
    record = dict(meta, format=FIXED_FORMAT, logrows=logrows,
                  srs_sha256=compute_file_sha256(srs_path),
                  vk_hash="0x" + compute_vk_hash(work / VK_FILE).hex())
    (work / META_FILE).write_text(json.dumps(record, indent=1))


def load_fixed_circuit(directory: Path, store: SrsStore) -> FixedCircuit:
    """A circuit written by `build_fixed_circuit`, with keys for the store's current SRS."""
    meta = json.loads((directory / META_FILE).read_text())
    if meta.get("format") != FIXED_FORMAT:
        raise ModelRejected(f"circuit in {directory} has an unknown format")
    srs_path = store.path_for(int(meta["logrows"]))
    srs_sha256 = compute_file_sha256(srs_path)
    if srs_sha256 != meta["srs_sha256"]:
        # Keys belong to one SRS: another SRS file needs new keys (and gives a new vk hash).
        _setup_keys(directory, srs_path, None)
        meta["srs_sha256"] = srs_sha256
        meta["vk_hash"] = "0x" + compute_vk_hash(directory / VK_FILE).hex()
        tmp = directory / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, directory / META_FILE)
    return FixedCircuit(directory, int(meta["logrows"]), srs_path, srs_sha256,
                        Hash32(bytes.fromhex(meta["vk_hash"][2:])), meta)
