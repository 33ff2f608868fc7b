"""A ledger thread survives what nobody expected: an exception from a tick is shown on the link
(state "error", its message as last_error), its traceback logged once, and the thread ticks on;
the next good tick clears it. On a node posting to the embedded EVM."""

import logging
import threading

from flavum.node.config import LedgerSpec
from flavum.node.ledgers import LedgerRunner
from flavum.node.query import NodeQuery

from .test_ledgers import open_node


def test_an_unexpected_exception_is_shown_and_the_thread_goes_on(tmp_path, shared_srs, caplog,
                                                                 monkeypatch):
    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0))
    try:
        link = node.ledger("evm")
        runner = LedgerRunner([link], interval_s=0)
        calls = []

        def broken() -> None:
            calls.append(threading.current_thread().name)
            if len(calls) == 3:
                runner._stop.set()  # three ticks, then the loop ends
            raise KeyError("no such slot")

        monkeypatch.setattr(link.ledger, "escape_status", broken)
        with caplog.at_level(logging.ERROR, logger="flavum.node.ledgers"):
            runner._run(link)  # the thread's loop, run here: it ends only when stopped
        assert len(calls) == 3  # the first exception did not end the loop
        info = NodeQuery(node).ledgers()[0]
        assert info.state == "error"
        assert info.last_error == ("unexpected KeyError: 'no such slot' (traceback in the "
                                   "node's log)")
        logged = [r for r in caplog.records if r.exc_info]
        assert len(logged) == 1 and "no such slot" in logged[0].getMessage()

        monkeypatch.undo()
        link.tick()
        info = NodeQuery(node).ledgers()[0]
        assert (info.state, info.last_error) == ("posting", None)
    finally:
        node.close()
