"""Run a node: a ticker producing blocks, batches and proofs on time, and the HTTP API."""

import os
import threading

import uvicorn

from flavum.api.app import create_app
from flavum.core.codec import to_hex
from flavum.node.config import NodeConfig
from flavum.node.ledgers import LedgerRunner
from flavum.node.node import Node
from flavum.zk.logs import VERBOSE_ENV, quiet_ezkl_logs

TICK_S = 0.2


def run_node(config: NodeConfig, host: str | None = None, port: int | None = None,
             verbose: bool = False) -> None:
    """Serve until interrupted. Accepted transactions are durable: a restart resumes them.
    Unless `verbose`, ezkl's and tract's log chatter stays out of the log (flavum.zk.logs)."""
    if verbose:  # inherited by the spawned prover and compile processes
        os.environ[VERBOSE_ENV] = "1"
    quiet_ezkl_logs()
    node = Node.open(config)
    # The signer-recovery processes start now, in the background, not on the first burst of
    # transactions (which would wait for them). Only here: in-process nodes (tests) spare them.
    node.sequencer.recovery.start(wait=False)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            node.tick()

    ticker = threading.Thread(target=tick, name="flavum-ticker", daemon=True)
    ticker.start()
    ledgers = LedgerRunner(node.ledgers)
    ledgers.start()
    host, port = host or config.host, port or config.port
    print(banner(config, host, port), flush=True)
    try:
        uvicorn.run(create_app(node), host=host, port=port,
                    log_level="info" if verbose else "warning")
    finally:
        stop.set()
        ticker.join()
        ledgers.stop()
        node.sequencer.produce_block()
        node.close()


def banner(config: NodeConfig, host: str, port: int) -> str:
    """The start-up lines: where the API and the explorer are, and what the node posts to."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # a URL a browser can open
    url = f"http://{shown}:{port}"
    ledgers = ", ".join(f"{s.name} ({s.kind} {s.url})" for s in config.ledgers) or "none"
    return "\n".join([
        f"flavum node running (home {config.home}, chain {config.domain.chain_id}, "
        f"rollup {to_hex(config.domain.rollup_id)})",
        f"  API       {url}/v1/status",
        f"  explorer  {url}/",
        f"  ledgers   {ledgers}",
        f"  batches   sealed every {config.batch_interval_s:g} s or {config.batch_max_txs} "
        "transactions, whichever comes first ([batching] in config.toml)",
        "  Ctrl-C stops it; a restart resumes",
    ])
