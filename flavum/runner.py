"""Run a node: a ticker producing blocks, batches and proofs on time, and the HTTP API."""

import threading

import uvicorn

from flavum.api.app import create_app
from flavum.node.config import NodeConfig
from flavum.node.ledgers import LedgerRunner
from flavum.node.node import Node

TICK_S = 0.2


def run_node(config: NodeConfig, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted. Accepted transactions are durable: a restart resumes them."""
    node = Node.open(config)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            node.tick()

    ticker = threading.Thread(target=tick, name="flavum-ticker", daemon=True)
    ticker.start()
    ledgers = LedgerRunner(node.ledgers)
    ledgers.start()
    try:
        uvicorn.run(create_app(node), host=host or config.host, port=port or config.port,
                    log_level="warning")
    finally:
        stop.set()
        ticker.join()
        ledgers.stop()
        node.sequencer.produce_block()
        node.close()
