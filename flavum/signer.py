"""A federation signer: one member of the Litecoin custody multisig, in its own process.

Litecoin cannot check a batch, so LTC leaves custody only when `threshold` of the federation's
members sign. Each member runs a `FederationSigner` with its own key (never sent anywhere but
to its own Litecoin node's signing call), its own Litecoin node and its own access to the
batch data. Asked to co-sign a payout (flavum/l1/litecoin_federation.py, `CosignRequest`), it
takes the request only from the sequencer (signed by its anchor key: see `CosignRequest`) and
trusts nothing in it but the transaction it is asked to sign:

1. the withdrawal is LTC of this ledger, above dust;
2. it never co-signed another payout of this leaf (its own journal, written before it signs)
   and no payout of the leaf is in its node's chain or mempool;
3. batch `n` is anchored on its own node under at least `confirmations` blocks;
4. its independent verifier (flavum/verifier.py) accepts batches 0..n, read from the anchors
   and the batch data: re-execution of every transaction, every root, every proof, each batch
   continuing the previous one's state root from the rollup's genesis root, and every LTC
   deposit those batches credit is a deposit to custody its own node holds, as credited, with
   `confirmations` blocks on top (the verifier's "deposits" check: the state transition takes
   a Deposit on the sequencer's word, and Litecoin checks none);
5. the leaf is in batch n's verified withdrawal root (the request's Merkle proof);
6. the transaction only pays that withdrawal from custody (`check_payout`).

Then it adds its signature. Anything else is a `PayoutRefused` with its reason; the HTTP
server (flavum/signer_http.py) answers it as a 4xx. A signer home holds `signer.toml`
(`SignerConfig`), `signer.key` (mode 0600) and `journal.db`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flavum.core.batch import BatchHeader, compute_withdrawal_leaf
from flavum.core.codec import from_hex, to_hex
from flavum.core.errors import ConfigError, FlavumError
from flavum.core.merkle import verify_tree_proof
from flavum.core.state import Domain
from flavum.core.types import ChainId, Hash32
from flavum.da.errors import StoreUnreachable
from flavum.da.factory import open_store
from flavum.da.interface import DataStore
from flavum.l1.errors import LedgerUnreachable, PayoutRefused, WithdrawalRefused
from flavum.l1.interface import PostedBatch
from flavum.l1.litecoin import LitecoinLedger
from flavum.l1.litecoin_federation import CosignRequest, check_payout
from flavum.l1.litecoin_script import compute_public_key, parse_private_key
from flavum.l1.litecoin_wallet import sign_spend
from flavum.ledger_deposits import LedgerDeposits
from flavum.verifier import ArtifactCache, verify_posted

CONFIG_FILE, KEY_FILE, JOURNAL_FILE = "signer.toml", "signer.key", "journal.db"
# A check that failed only because this signer's own Litecoin node or data store did not answer
# is no verdict on the batch: the error passes on (the HTTP server answers 503, ask again).
UNREACHABLE: dict[str, type[FlavumError]] = {
    LedgerUnreachable.code: LedgerUnreachable, StoreUnreachable.code: StoreUnreachable}


@dataclass(frozen=True)
class SignerConfig:
    """`signer.toml`: the signer's Litecoin node, the federation it belongs to, where it reads
    batch data, and the rollup it verifies (domain and genesis root, published with it)."""

    litecoin_url: str
    rpc_user: str
    rpc_password: str
    federation_public_keys: tuple[str, ...]  # every member, in the custody script's order
    threshold: int
    anchor_public_key: str  # the sequencer's anchor key: who writes the anchors
    data_store: str  # a data store URL (flavum/da/factory.py)
    chain_id: int
    rollup_id: str
    genesis_root: str
    ledger_name: str = "litecoin"
    start_height: int = 0
    # An anchor this deep is final for this signer; a deposit is held with this many blocks
    # on top (as the node's watcher credits it).
    confirmations: int = 2
    max_fee_rate: int = 100  # litoshis a vbyte a payout may spend on its fee (from its amount)
    host: str = "127.0.0.1"
    port: int = 8790

    def to_toml(self) -> str:
        # JSON strings, numbers and arrays of strings are TOML as they are.
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        lines = ["[signer]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def load(cls, home: Path) -> SignerConfig:
        path = home / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(f"no signer configuration {path} (see `flavum signer init`)")
        try:
            raw = tomllib.loads(path.read_text())["signer"]
            raw["federation_public_keys"] = tuple(raw["federation_public_keys"])
            return cls(**raw)
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def write(self, home: Path) -> None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / CONFIG_FILE).write_text(self.to_toml())

    @property
    def domain(self) -> Domain:
        return Domain(ChainId(self.chain_id), Hash32(from_hex(self.rollup_id, 32, "rollup_id")))


def create_signer_key(home: Path, key: bytes | None = None) -> bytes:
    """Write `signer.key` (a new key unless `key` is given; mode 0600 in a 0700 folder)
    unless the home has one. Returns the signer's public key."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("0x" + (key or secrets.token_bytes(32)).hex() + "\n")
    return compute_public_key(read_signer_key(home))


def read_signer_key(home: Path) -> bytes:
    path = home / KEY_FILE
    if not path.is_file():
        raise ConfigError(f"no signer key {path}")
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others: chmod 600 it")
    return parse_private_key(path.read_text().strip())


class FederationSigner:
    """One federation member: checks a co-sign request (module docstring) and signs."""

    def __init__(self, config: SignerConfig, key: bytes, journal: Path,
                 store: DataStore | None = None, workdir: Path | None = None) -> None:
        self.config = config
        self.key = key
        self.public_key = compute_public_key(key)
        self.ledger = LitecoinLedger(
            config.litecoin_url, config.rpc_user, config.rpc_password,
            federation_public_keys=list(config.federation_public_keys),
            threshold=config.threshold, anchor_public_key=config.anchor_public_key,
            name=config.ledger_name, start_height=config.start_height)
        if self.public_key not in self.ledger.custody.public_keys:
            raise ConfigError("this signer's key is not a member of the federation")
        self.store = store if store is not None else open_store(config.data_store)
        self.domain = config.domain
        self.genesis_root = Hash32(from_hex(config.genesis_root, 32, "genesis_root"))
        self._tmp = None if workdir is not None else tempfile.mkdtemp(prefix="flavum-signer-")
        self.artifacts = ArtifactCache(self.store, workdir or Path(self._tmp or "."))
        self.deposits = LedgerDeposits(self.ledger, config.confirmations, config.start_height)
        self._verified: dict[int, tuple[Hash32, BatchHeader]] = {}  # by number: (hash, header)
        self._lock = threading.Lock()  # one request at a time: the journal check, then signing
        self.journal = sqlite3.connect(journal, check_same_thread=False, isolation_level=None)
        # One row a leaf: the transaction co-signed for it, the coins it spends, and the
        # height at which one of them was first seen spent by another transaction.
        self.journal.execute("CREATE TABLE IF NOT EXISTS cosigned (leaf TEXT PRIMARY KEY, "
                             "txid TEXT NOT NULL, batch INTEGER, idx INTEGER, at REAL, "
                             "inputs TEXT NOT NULL, dead_at INTEGER)")

    @classmethod
    def open(cls, home: Path) -> FederationSigner:
        return cls(SignerConfig.load(home), read_signer_key(home), home / JOURNAL_FILE)

    def close(self) -> None:
        self.journal.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def info(self) -> dict[str, Any]:
        return {"public_key": to_hex(self.public_key), "threshold": self.config.threshold,
                "custody_address": self.ledger.custody_address,
                "cosigned": self.journal.execute("SELECT COUNT(*) FROM cosigned").fetchone()[0]}

    def cosign(self, request: CosignRequest) -> str:
        """The request's transaction with this member's signature added, or PayoutRefused."""
        with self._lock:
            return self._cosign(request)

    def _cosign(self, request: CosignRequest) -> str:
        if not request.is_signed_by(self.ledger.anchor_account.public_keys[0]):
            raise PayoutRefused("the request is not signed by the sequencer's anchor key",
                                reason="not from the sequencer")
        withdrawal = request.withdrawal
        try:
            self.ledger.check_payable(withdrawal)
        except WithdrawalRefused as exc:
            raise PayoutRefused(str(exc), reason=exc.reason) from exc
        leaf = compute_withdrawal_leaf(withdrawal)
        txid, spend = check_payout(self.ledger.rpc, self.ledger.custody, withdrawal, request.tx,
                                   max_fee_rate=self.config.max_fee_rate)
        paid = self.ledger.payouts().get(leaf)
        before = self.journal.execute("SELECT txid, inputs, dead_at FROM cosigned WHERE leaf = ?",
                                      (leaf.hex(),)).fetchone()
        if before is not None and before[0] != txid and (
                paid is not None or not self._abandoned(leaf, *before)):
            raise PayoutRefused(f"this signer co-signed a payout of leaf {to_hex(leaf)} before "
                                f"(transaction {before[0]})", reason="already co-signed")
        if paid is not None and paid.txid != txid:
            raise PayoutRefused(f"leaf {to_hex(leaf)} is paid by {paid.txid}",
                                reason="already paid")
        header = self.verified_header(request.batch)
        if not verify_tree_proof(header.withdrawal_root, leaf, request.index, request.proof):
            raise PayoutRefused(f"the withdrawal is not leaf {request.index} of batch "
                                f"{request.batch}'s verified withdrawal root",
                                reason="not in the verified withdrawal root")
        # Written before signing: a signature this signer gave is never given for another
        # transaction of the same leaf while that one can still be mined, also after a crash.
        inputs = json.dumps([[p["txid"], p["vout"]] for p in spend.previous])
        self.journal.execute("INSERT OR REPLACE INTO cosigned VALUES (?, ?, ?, ?, ?, ?, NULL)",
                             (leaf.hex(), txid, request.batch, request.index, time.time(), inputs))
        return sign_spend(self.ledger.rpc, spend, self.key).raw

    def _abandoned(self, leaf: Hash32, txid: str, inputs: str, dead_at: int | None) -> bool:
        """Whether the payout this signer co-signed for `leaf` (which is not paid) can no
        longer be mined: a coin it spends was spent in the chain by another transaction, seen
        so at least `confirmations` blocks ago (a reorg that shallow could revive it)."""
        rpc = self.ledger.rpc
        spent = any(rpc.call("gettxout", coin, vout, False) is None
                    for coin, vout in json.loads(inputs))
        if not spent:
            self.journal.execute("UPDATE cosigned SET dead_at = NULL WHERE leaf = ?",
                                 (leaf.hex(),))
            return False
        head = self.ledger.head()
        if dead_at is None:
            self.journal.execute("UPDATE cosigned SET dead_at = ? WHERE leaf = ?",
                                 (head, leaf.hex()))
            dead_at = head
        return head - dead_at >= self.config.confirmations

    def verified_header(self, number: int) -> BatchHeader:
        """Batch `number`'s header, once anchored `confirmations` deep on this signer's node
        and accepted by its verifier together with every batch before it (verdicts are kept
        by batch hash: each batch is verified once unless its anchor changes)."""
        anchors = self.ledger.anchors()
        anchor = anchors.get(number)
        if anchor is None or anchor.confirmations < self.config.confirmations:
            depth = 0 if anchor is None else anchor.confirmations
            raise PayoutRefused(f"batch {number} has {depth} of {self.config.confirmations} "
                                "confirmations on this signer's node", reason="batch not final")
        prev = self.genesis_root
        for n in range(number + 1):
            found = anchors[n]
            cached = self._verified.get(n)
            if cached is not None and cached[0] == found.batch_hash:
                prev = cached[1].state_root
                continue
            for later in [k for k in self._verified if k >= n]:  # verified on another chain
                del self._verified[later]
            posted = PostedBatch(n, None, found.batch_hash, found.data_pointer)
            report, header = verify_posted(posted, self.store, self.domain,
                                           prev_state_root=prev, artifacts=self.artifacts,
                                           deposits=self.deposits)
            if report.code in UNREACHABLE:  # no verdict: its own node or store is out of reach
                raise UNREACHABLE[report.code](f"batch {n} ({report.check}): {report.reason}")
            if not report.ok or header is None:
                raise PayoutRefused(f"batch {n} fails verification ({report.check}): "
                                    f"{report.reason}", reason="batch fails verification")
            self._verified[n] = (found.batch_hash, header)
            prev = header.state_root
        return self._verified[number][1]
