"""Node configuration: a TOML file in the node's home directory, plus the dev keys beside it.

Layout of a home directory (`flavum init` creates it):
    config.toml      domain, genesis allocations, batching, API address (mode 0600)
    keys/<name>.key  secp256k1 private keys, hex, mode 0600 in a 0700 folder; development
                     keys, kept unencrypted
    node.db          the node's SQLite store

The domain (`chain_id`, `rollup_id`) is the rollup contract's (flavum.l1.evm_identity):
`flavum init` writes the embedded EVM's, `flavum l1 deploy` the deployed contracts'.
"""

import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.codec import from_hex, parse_address
from flavum.core.encoding import compute_tag
from flavum.core.errors import ConfigError, MalformedHex
from flavum.core.genesis import DEV_ASSET, Genesis
from flavum.core.state import Domain
from flavum.core.transactions import address_of
from flavum.core.types import Address, Amount, AssetId, ChainId, Hash32

DEFAULT_HOME = Path.home() / ".flavum"
DEFAULT_LEDGER = "evm"
DEFAULT_CHAIN_ID = 31337  # anvil's and eth-tester's default chain id
DEFAULT_PORT = 8787
DEV_FUNDING = 10**21  # of the dev asset (flavum.core.genesis): 1,000 units of 18 decimals
# Beyond any reorg seen on proof-of-stake Ethereum outside finality (1-2 blocks); 30 minutes of
# Litecoin blocks. See docs/configuration.md; the embedded EVM sets 0 (it cannot reorganise).
DEFAULT_CONFIRMATIONS = 12
# A batch is final (its withdrawals payable) this many blocks after it is accepted: 7 days of
# 12-second blocks, the time for anyone to notice fraud and get a challenge mined even while
# the chain is congested or censored for a while (docs/settlement.md).
DEFAULT_CHALLENGE_WINDOW = 50_400
# The rollup id of a home with no EVM ledger and no `rollup_id` (tests; anchoring-only setups
# set their own): an EVM ledger's rollup id is its contract's (flavum.l1.evm_identity).
DEV_ROLLUP_ID = compute_tag("rollup.flavum-dev")


# How amounts of an asset read: (unit, decimals) of the dev asset and of each ledger kind's coin.
DEV_UNIT = ("dev", 18)
COIN_UNITS = {"evm": ("ETH", 18), "litecoin": ("LTC", 8)}


def native_asset(ledger: str = DEFAULT_LEDGER) -> AssetId:
    """The native coin of a ledger, as an asset of the rollup."""
    return compute_asset_id(compute_ledger_id(ledger))


@dataclass(frozen=True)
class Allocation:
    """A `[[genesis]]` table: dev-asset funds for an account (flavum.core.genesis)."""

    address: Address
    amount: Amount


@dataclass(frozen=True)
class LedgerSpec:
    """One `[[ledger]]` table of config.toml: a ledger every batch is posted to."""

    name: str
    kind: str  # evm | litecoin
    url: str = "embedded"  # evm: "embedded" (in-process EVM) or a JSON-RPC URL
    deployment: str = ""  # evm over RPC: deployment JSON written by `flavum l1 deploy`
    sequencer_key: str = "sequencer"  # key name (home/keys) that posts batches
    confirmations: int = DEFAULT_CONFIRMATIONS  # deposits are credited this many blocks deep
    forced_window: int = 100  # blocks before a forced request must be in a batch
    # blocks before a batch is final; None: DEFAULT_CHALLENGE_WINDOW on a real chain, 0 on the
    # embedded EVM (nobody else can see it to challenge)
    challenge_window: int | None = None
    # blocks without an accepted batch before the rollup freezes into escape mode (EVM);
    # None: flavum.l1.evm_deploy.DEFAULT_ESCAPE_DELAY (100,800 blocks, 14 days)
    escape_delay: int | None = None
    # blocks from a sequencer rotation's proposal to its activation (EVM); more than the forced
    # and challenge windows together; None: those plus flavum.l1.evm_deploy.ROTATION_MARGIN
    rotation_delay: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific settings

    def to_toml(self) -> list[str]:
        lines = ["", "[[ledger]]", f'name = "{self.name}"', f'kind = "{self.kind}"',
                 f'url = "{self.url}"', f'deployment = "{self.deployment}"',
                 f'sequencer_key = "{self.sequencer_key}"',
                 f"confirmations = {self.confirmations}", f"forced_window = {self.forced_window}"]
        if self.challenge_window is not None:
            lines.append(f"challenge_window = {self.challenge_window}")
        if self.escape_delay is not None:
            lines.append(f"escape_delay = {self.escape_delay}")
        if self.rotation_delay is not None:
            lines.append(f"rotation_delay = {self.rotation_delay}")
        return lines + [f"{k} = {json.dumps(v)}" for k, v in self.options.items()]


LEDGER_FIELDS = ("name", "kind", "url", "deployment", "sequencer_key", "confirmations",
                 "forced_window", "challenge_window", "escape_delay", "rotation_delay")


def parse_ledger(raw: dict[str, Any]) -> LedgerSpec:
    known = {k: v for k, v in raw.items() if k in LEDGER_FIELDS}
    options = {k: v for k, v in raw.items() if k not in LEDGER_FIELDS}
    return LedgerSpec(**known, options=options)


@dataclass(frozen=True)
class NodeConfig:
    home: Path
    chain_id: int = DEFAULT_CHAIN_ID
    # The rollup contract's id (flavum.l1.evm_identity), written by `flavum init` (embedded
    # EVM) and `flavum l1 deploy`. None: the embedded EVM ledger's, else DEV_ROLLUP_ID.
    rollup_id: Hash32 | None = None
    genesis: tuple[Allocation, ...] = ()
    block_max_txs: int = 500
    block_interval_s: float = 1.0
    batch_max_txs: int = 2000
    batch_interval_s: float = 10.0
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = 1 << 20  # any request but an ONNX upload (api.guard)
    max_upload_bytes: int = 96 << 20  # POST /v1/models/compile: base64 ONNX and calibration
    recover_workers: int = 2  # processes recovering signers under load (0: in the submitter)
    prover: str = "local"  # local | inline | ray
    prover_workers: int = 1
    prover_threads: int | None = None  # RAYON_NUM_THREADS per worker (None: all cores)
    prover_retries: int = 2
    prover_timeout_s: float = 900.0
    prover_pack_wait_s: float = 2.0  # batched models: longest wait for a pack of N requests
    ray_address: str = ""
    max_logrows: int = 18
    srs_file: str = ""  # a ceremony SRS; empty: generate a local (dev-only) SRS per logrows
    min_agreement: float = 0.9
    max_tensor_elements: int = 2**22  # per intermediate tensor, one sample (ml.onnx_check)
    max_activation_elements: int = 2**24  # all intermediate tensors together, one sample
    compile_memory_mb: int = 12_288  # a compilation's child process (node.sandbox)
    compile_cpu_s: int = 1_800
    compile_timeout_s: float = 1_800.0
    ledgers: tuple[LedgerSpec, ...] = ()
    data_store: str = ""  # where batch data goes: empty = home/da; s3://..., ipfs+http://...

    @cached_property
    def domain(self) -> Domain:
        """The domain every transaction of this home is signed for (see `rollup_id`)."""
        if self.rollup_id is not None:
            return Domain(ChainId(self.chain_id), self.rollup_id)
        for ledger in self.ledgers:
            if ledger.kind == "evm" and ledger.url == "embedded":
                from flavum.l1.factory import embedded_domain

                return embedded_domain(address_of(load_key(self.home, ledger.sequencer_key)))
            if ledger.kind == "evm":
                raise ConfigError(f"ledger {ledger.name}: no rollup_id in the config, which "
                                  f"`flavum l1 deploy --ledger {ledger.name}` writes")
        return Domain(ChainId(self.chain_id), DEV_ROLLUP_ID)

    @property
    def genesis_state(self) -> Genesis:
        """The domain and (account, dev-asset amount) allocations batch 0 starts from."""
        return Genesis(self.domain, tuple((a.address, a.amount) for a in self.genesis))

    @property
    def db_path(self) -> Path:
        return self.home / "node.db"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _parse_allocation(raw: dict[str, Any]) -> Allocation:
    asset = raw.get("asset")
    if asset is not None and asset.lower() != "0x" + DEV_ASSET.hex():
        raise ConfigError(
            f"[[genesis]] allocates asset {asset}: a genesis may fund accounts only in the dev "
            f"asset 0x{DEV_ASSET.hex()}, which no bridge pays; deposit withdrawable assets "
            "from their ledger")
    amount = int(raw["amount"])
    if amount < 0:
        raise ConfigError(f"[[genesis]] allocates {amount}: amounts are not negative")
    return Allocation(parse_address(raw["address"]), Amount(amount))


def load_config(home: Path) -> NodeConfig:
    """Read `home/config.toml`; a missing or invalid file is a ConfigError naming the problem."""
    path = home / "config.toml"
    if not path.exists():
        raise ConfigError(f"no config at {path}: run `flavum init` first")
    try:
        raw = tomllib.loads(path.read_text())
        genesis = tuple(_parse_allocation(a) for a in raw.get("genesis", []))
        node = raw.get("node", {})
        batching = raw.get("batching", {})
        prover = raw.get("prover", {})
        models = raw.get("models", {})
        return NodeConfig(
            home=home,
            chain_id=int(raw["chain_id"]),
            rollup_id=(Hash32(from_hex(raw["rollup_id"], 32, "rollup_id")) if "rollup_id" in raw
                       else None),
            genesis=genesis,
            block_max_txs=int(batching.get("block_max_txs", 500)),
            block_interval_s=float(batching.get("block_interval_s", 1.0)),
            batch_max_txs=int(batching.get("batch_max_txs", 2000)),
            batch_interval_s=float(batching.get("batch_interval_s", 10.0)),
            host=str(node.get("host", "127.0.0.1")),
            port=int(node.get("port", DEFAULT_PORT)),
            max_body_bytes=int(node.get("max_body_bytes", 1 << 20)),
            max_upload_bytes=int(node.get("max_upload_bytes", 96 << 20)),
            recover_workers=int(node.get("recover_workers", 2)),
            prover=str(prover.get("backend", "local")),
            prover_workers=int(prover.get("workers", 1)),
            prover_threads=int(prover["threads_per_worker"]) if "threads_per_worker" in prover
            else None,
            prover_retries=int(prover.get("max_retries", 2)),
            prover_timeout_s=float(prover.get("timeout_s", 900.0)),
            prover_pack_wait_s=float(prover.get("pack_wait_s", 2.0)),
            ray_address=str(prover.get("ray_address", "")),
            max_logrows=int(models.get("max_logrows", 18)),
            srs_file=str(models.get("srs_file", "")),
            min_agreement=float(models.get("min_agreement", 0.9)),
            max_tensor_elements=int(models.get("max_tensor_elements", 2**22)),
            max_activation_elements=int(models.get("max_activation_elements", 2**24)),
            compile_memory_mb=int(models.get("compile_memory_mb", 12_288)),
            compile_cpu_s=int(models.get("compile_cpu_s", 1_800)),
            compile_timeout_s=float(models.get("compile_timeout_s", 1_800.0)),
            ledgers=tuple(parse_ledger(raw_ledger) for raw_ledger in raw.get("ledger", [])),
            data_store=str(raw.get("data_store", "")),
        )
    except (KeyError, ValueError, TypeError, MalformedHex, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"invalid config {path}: {exc}") from exc


def write_config(config: NodeConfig) -> Path:
    path = config.home / "config.toml"
    lines = [
        f"chain_id = {config.chain_id}",
        *([f'rollup_id = "0x{config.rollup_id.hex()}"  # the rollup contract\'s '
           "(docs/configuration.md)"] if config.rollup_id is not None else []),
        f'data_store = "{config.data_store}"  # batch data: empty = home/da, s3://.., ipfs+http://..',
        "",
        "[node]",
        f'host = "{config.host}"',
        f"port = {config.port}",
        f"max_body_bytes = {config.max_body_bytes}  # a request's body (413 past it)",
        f"max_upload_bytes = {config.max_upload_bytes}  # an ONNX upload's",
        f"recover_workers = {config.recover_workers}  # signature recovery processes under load",
        "",
        "[batching]",
        f"block_max_txs = {config.block_max_txs}",
        f"block_interval_s = {config.block_interval_s}",
        f"batch_max_txs = {config.batch_max_txs}",
        f"batch_interval_s = {config.batch_interval_s}",
        "",
        "[prover]",
        f'backend = "{config.prover}"  # local | inline | ray',
        f"workers = {config.prover_workers}",
        *([f"threads_per_worker = {config.prover_threads}"] if config.prover_threads else []),
        f"max_retries = {config.prover_retries}",
        f"timeout_s = {config.prover_timeout_s}",
        f"pack_wait_s = {config.prover_pack_wait_s}",
        f'ray_address = "{config.ray_address}"',
        "",
        "[models]",
        f"max_logrows = {config.max_logrows}",
        f'srs_file = "{config.srs_file}"  # a ceremony SRS; empty: local dev-only SRS',
        f"min_agreement = {config.min_agreement}",
        f"max_tensor_elements = {config.max_tensor_elements}  # refused before anything runs",
        f"max_activation_elements = {config.max_activation_elements}",
        f"compile_memory_mb = {config.compile_memory_mb}  # each compilation, in a child process",
        f"compile_cpu_s = {config.compile_cpu_s}",
        f"compile_timeout_s = {config.compile_timeout_s}",
    ]
    for ledger in config.ledgers:
        lines += ledger.to_toml()
    for a in config.genesis:
        lines += [
            "",
            "[[genesis]]",
            f'address = "0x{a.address.hex()}"',
            f'amount = "{a.amount}"',
        ]
    config.home.mkdir(parents=True, exist_ok=True)
    write_private(path, "\n".join(lines) + "\n")
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (mode 0600, also when it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def key_path(home: Path, name: str) -> Path:
    return home / "keys" / f"{name}.key"


def new_key(home: Path, name: str) -> Address:
    """Create a key named `name` (refusing to overwrite one) and return its address."""
    return import_key(home, name, secrets.token_bytes(32))


def import_key(home: Path, name: str, private_key: bytes) -> Address:
    """Store `private_key` as the key `name` (mode 0600 in a 0700 folder; refusing to overwrite
    one) and return its address."""
    path = key_path(home, name)
    if path.exists():
        raise ConfigError(f"a key named {name!r} already exists")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("0x" + private_key.hex() + "\n")
    return address_of(private_key)


def parse_private_key(text: str, what: str) -> bytes:
    """A 32-byte secp256k1 key from its hex (0x optional); `what` names it in errors."""
    try:
        private_key = bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError as exc:
        raise ConfigError(f"{what} is not hex") from exc
    if len(private_key) != 32:
        raise ConfigError(f"{what} does not hold a 32-byte key")
    return private_key


def read_key_file(path: Path) -> bytes:
    if not path.is_file():
        raise ConfigError(f"no key file {path}")
    return parse_private_key(path.read_text(), f"key file {path}")


def read_key_env(variable: str) -> bytes:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"the environment variable {variable} holds no key")
    return parse_private_key(value, f"the environment variable {variable}")


def load_key(home: Path, name: str) -> bytes:
    path = key_path(home, name)
    if not path.exists():
        raise ConfigError(f"no key named {name!r} (create one with `flavum account new`)")
    return parse_private_key(path.read_text(), f"key file for {name!r}")


def list_keys(home: Path) -> dict[str, Address]:
    folder = home / "keys"
    if not folder.exists():
        return {}
    return {p.stem: address_of(load_key(home, p.stem)) for p in sorted(folder.glob("*.key"))}
