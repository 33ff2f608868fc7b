"""Compiling models into circuits: config checks, size limit, content-addressed reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flavum.core.encoding import keccak256
from flavum.core.errors import ConfigError
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.zk.circuit import (
    CircuitArtifacts,
    CircuitConfig,
    build_circuit,
    canonicalize_settings,
    compute_circuit_key,
    rederive_vk_hash,
)
from flavum.zk.errors import CircuitTooLarge
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model


def test_artifacts_of_tiny_model(tiny_artifacts: CircuitArtifacts) -> None:
    a = tiny_artifacts
    for path in (a.model_path, a.settings_path, a.compiled_path, a.vk_path, a.pk_path):
        assert path.is_file()
    assert a.directory.name == a.key
    assert a.vk_hash == keccak256(a.vk_path.read_bytes())
    assert a.input_shape == (1, 4)
    assert a.output_shapes == ((1, 3),)
    assert a.num_input_instances == 1 and a.num_instances == 4
    assert a.logrows <= 12
    settings = json.loads(a.settings_path.read_text())
    assert settings["run_args"]["param_visibility"] == "Fixed"
    assert a.srs_path.name == f"kzg{a.logrows}.srs"


def test_second_build_reuses_artifacts(
    tiny_model: bytes,
    tiny_calibration: np.ndarray,
    tiny_artifacts: CircuitArtifacts,
    srs_store: SrsStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ezkl

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("a cached build must not recompute")

    for name in ("gen_settings", "calibrate_settings", "compile_circuit", "setup", "gen_srs"):
        monkeypatch.setattr(ezkl, name, refuse)
    stages: list[str] = []
    again = build_circuit(
        tiny_model,
        tiny_calibration,
        CircuitConfig(),
        srs_store,
        lambda stage, f: stages.append(stage),
        cache_dir=tiny_artifacts.directory.parent,
    )
    assert again == tiny_artifacts
    assert "setup" not in stages and "calibrate" not in stages


def test_key_depends_on_model_config_and_calibration(
    tiny_model: bytes, tiny_calibration: np.ndarray
) -> None:
    base = compute_circuit_key(tiny_model, tiny_calibration, CircuitConfig())
    assert base == compute_circuit_key(tiny_model, tiny_calibration.copy(), CircuitConfig())
    assert base != compute_circuit_key(make_mlp_model(seed=5), tiny_calibration, CircuitConfig())
    assert base != compute_circuit_key(tiny_model, tiny_calibration[:-1], CircuitConfig())
    cfg = CircuitConfig(input_visibility="public")
    assert base != compute_circuit_key(tiny_model, tiny_calibration, cfg)


def test_progress_stages_in_order(srs_store: SrsStore, zk_root: Path) -> None:
    stages: list[tuple[str, float | None]] = []
    build_circuit(
        make_mlp_model((3, 2), seed=7),
        make_calibration(3, rows=4),
        CircuitConfig(),
        srs_store,
        lambda stage, f: stages.append((stage, f)),
        cache_dir=zk_root / "circuits",
    )
    names = [s for s, _ in stages]
    assert names[:4] == ["calibrate", "calibrate", "compile", "compile"]
    assert names[-2:] == ["setup", "setup"]
    assert "srs" in names
    assert stages[-1] == ("setup", 1.0)


def test_too_large_refused_before_setup(
    tiny_model: bytes,
    tiny_calibration: np.ndarray,
    srs_store: SrsStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ezkl

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("setup must not run for a refused circuit")

    monkeypatch.setattr(ezkl, "setup", refuse)
    with pytest.raises(CircuitTooLarge, match=r"needs logrows \d+.*limit of 5"):
        build_circuit(
            tiny_model, tiny_calibration, CircuitConfig(max_logrows=5), srs_store,
            cache_dir=tmp_path,
        )
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert list(tmp_path.iterdir()) == []  # the temp build directory is gone too


def test_bad_model_and_calibration(srs_store: SrsStore, tmp_path: Path, tiny_model: bytes) -> None:
    with pytest.raises(ModelRejected, match="not an ONNX model"):
        build_circuit(b"garbage", make_calibration(4), CircuitConfig(), srs_store,
                      cache_dir=tmp_path)
    with pytest.raises(InvalidInput, match="rows have 5 values"):
        build_circuit(tiny_model, make_calibration(5), CircuitConfig(), srs_store,
                      cache_dir=tmp_path)
    bad = make_calibration(4)
    bad[2, 1] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        build_circuit(tiny_model, bad, CircuitConfig(), srs_store, cache_dir=tmp_path)


def test_batched_model_needs_whole_batches(
    srs_store: SrsStore, tmp_path: Path
) -> None:
    model = make_mlp_model((4, 3), batch=4)
    with pytest.raises(InvalidInput, match="at least 4 rows"):
        build_circuit(model, make_calibration(4, rows=3), CircuitConfig(), srs_store,
                      cache_dir=tmp_path)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="input_visibility"):
        CircuitConfig(input_visibility="hashed/private")
    with pytest.raises(ConfigError, match="output_visibility"):
        CircuitConfig(output_visibility="private")
    with pytest.raises(ConfigError, match="max_logrows"):
        CircuitConfig(max_logrows=40)
    cfg = CircuitConfig(scales=(7,), max_logrows=14)
    assert CircuitConfig.from_json(cfg.to_json()) == cfg


def test_changed_srs_redoes_keys_only(
    tiny_model: bytes, tiny_calibration: np.ndarray, tiny_artifacts: CircuitArtifacts,
    tmp_path: Path,
) -> None:
    # A user-supplied (here: freshly generated, one size up) SRS makes new keys and a new vk.
    other = SrsStore(tmp_path / "other").path_for(tiny_artifacts.logrows + 1)
    cache = tmp_path / "circuits"
    first = build_circuit(tiny_model, tiny_calibration, CircuitConfig(), SrsStore(tmp_path / "a"),
                          cache_dir=cache)
    again = build_circuit(tiny_model, tiny_calibration, CircuitConfig(),
                          SrsStore.from_file(other), cache_dir=cache)
    assert again.key == first.key
    assert again.srs_path == other
    assert again.vk_hash != first.vk_hash
    assert again.vk_hash == keccak256(again.vk_path.read_bytes())


def test_one_graph_gets_one_key_whatever_ezkl_orders_its_range_checks(
    tiny_artifacts: CircuitArtifacts, tiny_model: bytes, tiny_calibration: np.ndarray,
    srs_store: SrsStore, tmp_path: Path,
) -> None:
    """ezkl writes the required range checks in hash-set order, which differs from run to run:
    the order lays out the columns, so one graph could get two verifying keys. build_circuit
    writes the settings sorted, so a rebuild gives the same key."""
    settings = json.loads(tiny_artifacts.settings_path.read_text())
    checks = settings["required_range_checks"]
    assert len(checks) >= 2 and checks == sorted(checks, key=json.dumps)
    assert "timestamp" not in settings
    # The problem: the same graph and settings with the range checks in the other order (as
    # another ezkl run may write them) give another key.
    reordered = tmp_path / "reordered"
    reordered.mkdir()
    swapped = tmp_path / "settings.json"
    swapped.write_text(json.dumps(dict(settings, required_range_checks=checks[::-1])))
    other_vk = rederive_vk_hash(tiny_artifacts.model_path, swapped, tiny_artifacts.srs_path,
                                reordered)
    assert other_vk != tiny_artifacts.vk_hash
    # The fix: canonical settings map any order to the same file.
    assert canonicalize_settings(swapped) == settings
    # And a fresh build (a new ezkl run, its own hash-set order) gives the same key.
    again = build_circuit(tiny_model, tiny_calibration, CircuitConfig(), srs_store,
                          cache_dir=tmp_path / "again")
    assert again.vk_hash == tiny_artifacts.vk_hash
    assert again.settings_path.read_bytes() == tiny_artifacts.settings_path.read_bytes()
