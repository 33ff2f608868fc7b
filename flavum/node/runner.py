"""Run a node: the sequencer, a ticker producing blocks and batches on time, the HTTP API."""

import threading

import uvicorn

from flavum.api.app import create_app
from flavum.node.config import NodeConfig
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store

TICK_S = 0.2


def run_node(config: NodeConfig, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted. Accepted transactions are durable: a restart resumes them."""
    store = Store(config.db_path)
    sequencer = Sequencer(config, store)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            sequencer.tick()

    ticker = threading.Thread(target=tick, name="flavum-ticker", daemon=True)
    ticker.start()
    try:
        uvicorn.run(create_app(sequencer), host=host or config.host, port=port or config.port,
                    log_level="warning")
    finally:
        stop.set()
        ticker.join()
        sequencer.produce_block()
        store.close()
