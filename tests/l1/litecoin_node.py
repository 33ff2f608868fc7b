"""A Litecoin Core regtest node for tests: a temporary datadir, RPC on 127.0.0.1 and a free
port, no P2P; started by the test and stopped after. It can be stopped and started again on
the same datadir and port (a restart), or killed (a crash).

`bootstrap` mines past block 431 with one peg-in to MWEB: Litecoin's regtest activates MWEB
at height 432 and then cannot mine a block until the extension block has been pegged into
(CreateNewBlock fails with bad-txns-vin-empty), so every test runs on MWEB-era blocks, as
mainnet does.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flavum.l1.errors import LedgerUnreachable
from flavum.l1.litecoin import LitecoinLedger
from flavum.l1.litecoin_rpc import LitecoinRpc

LITECOIND = shutil.which("litecoind")
RPC_USER, RPC_PASSWORD = "flavum", "regtest-only"
MINER_WALLET = "miner"
MWEB_HEIGHT = 432

# Fixed regtest keys: a 2-of-3 federation and the sequencer's anchor key.
FEDERATION_KEYS = tuple(bytes([0x40 + i]) * 32 for i in range(3))
ANCHOR_KEY = b"\x4a" * 32
THRESHOLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LitecoinNode:
    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.rpc = LitecoinRpc(self.url, RPC_USER, RPC_PASSWORD, timeout_s=30.0)
        self.miner_address = ""
        datadir.mkdir(parents=True, exist_ok=True)
        (datadir / "litecoin.conf").write_text("\n".join([
            "regtest=1", "server=1", "listen=0", "dnsseed=0", "upnp=0", "fallbackfee=0.0001",
            "[regtest]", "rpcbind=127.0.0.1", "rpcallowip=127.0.0.1", f"rpcport={self.port}",
            f"rpcuser={RPC_USER}", f"rpcpassword={RPC_PASSWORD}", "",
        ]))

    # --- process ---

    def start(self, timeout_s: float = 60.0) -> float:
        """Start litecoind and wait for its RPC; returns the seconds it took."""
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [str(LITECOIND), f"-datadir={self.datadir}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                self.rpc.call("getblockcount")
                break
            except LedgerUnreachable:
                if time.monotonic() - began > timeout_s or self.proc.poll() is not None:
                    self.kill()
                    raise
                time.sleep(0.05)
        if self.miner_address:
            self.load_wallet(MINER_WALLET)
        return time.monotonic() - began

    def stop(self) -> None:
        """A clean shutdown (`stop` RPC); the mempool and wallets are saved."""
        if self.proc is None:
            return
        try:
            self.rpc.call("stop")
        except LedgerUnreachable:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def kill(self, flush_chain: bool = False) -> None:
        """A crash: SIGKILL, the mempool is lost. Regtest flushes its chain state lazily, so a
        crash rolls it back to the last flush (the bootstrapped height 432 in a short test);
        `flush_chain` first forces a flush (gettxoutsetinfo), as a node that crashes hours after
        the blocks came would have done (on a real network, peers would also give the blocks
        back)."""
        if self.proc is None:
            return
        if flush_chain:
            self.call("gettxoutsetinfo")
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def load_wallet(self, name: str) -> None:
        if name not in self.rpc.call("listwallets"):
            self.rpc.call("loadwallet", name)

    # --- chain ---

    def call(self, method: str, *params: Any, wallet: str | None = None) -> Any:
        return self.rpc.call(method, *params, wallet=wallet)

    def start_bootstrapped(self) -> None:
        """Start on a copy of a bootstrapped chain (a miner wallet with mature coins, MWEB
        active at height 432): the chain is mined once per test process into a template
        datadir, cleanly stopped, and each node starts from its own copy of it (0.01 s instead
        of ~2 s of mining), as independent of the others as a freshly mined one."""
        template, miner_address = _bootstrapped_template()
        shutil.copytree(template / "regtest", self.datadir / "regtest")
        self.miner_address = miner_address
        self.start()

    def bootstrap(self) -> None:
        """A miner wallet with mature coins, MWEB active (height 432)."""
        self.call("createwallet", MINER_WALLET)
        self.miner_address = self.call("getnewaddress", wallet=MINER_WALLET)
        self.mine(MWEB_HEIGHT - 1)
        peg_in = self.call("getnewaddress", "", "mweb", wallet=MINER_WALLET)
        self.call("sendtoaddress", peg_in, 1, wallet=MINER_WALLET)
        self.mine(1)

    def mine(self, blocks: int = 1, fork: bool = False) -> list[str]:
        """Mine blocks. `fork`: to a new address, so that after invalidateblock the new block
        differs from the invalidated one (same parent, coinbase and second would make the same
        block, which stays marked invalid)."""
        address = self.miner_address
        if fork:
            address = self.call("getnewaddress", wallet=MINER_WALLET)
        return list(self.call("generatetoaddress", blocks, address))

    def send(self, address: str, litoshis: int) -> str:
        return str(self.call("sendtoaddress", address, f"{litoshis / 10**8:.8f}",
                             wallet=MINER_WALLET))

    def new_wallet(self, name: str, funded_litoshis: int = 0) -> str:
        """A user wallet, optionally funded (one block mined); returns one of its addresses."""
        self.call("createwallet", name)
        address = str(self.call("getnewaddress", wallet=name))
        if funded_litoshis:
            self.send(address, funded_litoshis)
            self.mine(1)
        return address


_template: tuple[Path, str] | None = None


def _bootstrapped_template() -> tuple[Path, str]:
    """A datadir holding a bootstrapped regtest chain and its miner's address, made once."""
    global _template
    if _template is None:
        root = Path(tempfile.mkdtemp(prefix="flavum-litecoin-template-"))
        atexit.register(shutil.rmtree, root, True)
        node = LitecoinNode(root)
        node.start()
        try:
            node.bootstrap()
        finally:
            node.stop()  # a clean stop: chain state and wallet flushed to disk
        _template = (root, node.miner_address)
    return _template


def make_ledger(node: LitecoinNode, *, keys: Sequence[bytes] = FEDERATION_KEYS,
                **options: Any) -> LitecoinLedger:
    return LitecoinLedger(node.url, RPC_USER, RPC_PASSWORD, federation_keys=list(keys),
                          threshold=THRESHOLD, anchor_key=ANCHOR_KEY, **options)
