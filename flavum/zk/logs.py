"""ezkl's and tract's log chatter, kept out of a node's log unless it runs verbose.

ezkl logs through Python's `logging` (loggers named after its Rust modules: `ezkl.…`,
`tract_onnx.…`); with no handler configured, Python prints every warning to stderr, so each
compile wrote a "Numerical Fidelity Report" table and repeated tract opset warnings into the
node's log. `quiet_ezkl_logs` raises those loggers to ERROR in the calling process; the
prover workers and compile jobs are spawned processes, so each calls it itself, and the
environment variable FLAVUM_VERBOSE=1 (set by `flavum node run --verbose`, inherited by the
children) keeps the chatter.
"""

import logging
import os

VERBOSE_ENV = "FLAVUM_VERBOSE"
CHATTY = ("ezkl", "tract_onnx", "tract_hir", "tract_core", "tract_data", "tract_linalg",
          "tract_nnef", "halo2_proofs", "halo2_solidity_verifier")


def quiet_ezkl_logs() -> None:
    """Only errors from ezkl and tract, unless FLAVUM_VERBOSE=1. Call before ezkl's first log
    record: its bridge to `logging` caches each logger's level."""
    level = logging.NOTSET if os.environ.get(VERBOSE_ENV) == "1" else logging.ERROR
    for name in CHATTY:
        logging.getLogger(name).setLevel(level)
